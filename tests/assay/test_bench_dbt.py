"""bench/dbt.py runs and prints the keys docs/performance.md reports (no timing asserted)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dbt.cli.main", reason="the dbt extra is not installed")

ROOT = Path(__file__).resolve().parents[2]


def test_bench_prints_one_json_line_with_the_load_and_overhead_figures():
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "dbt.py"), "5"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    [line] = proc.stdout.splitlines()
    row = json.loads(line)
    assert list(row) == ["load_1000_models_s", "overhead_per_model_ms"]
    assert row["load_1000_models_s"] > 0
    assert isinstance(row["overhead_per_model_ms"], float)
