"""bench/materialize.py runs and prints what docs/performance.md reports (no timing asserted)."""

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "bench" / "materialize.py"
KEYS = ["n", "defs_load_s", "materialize_s", "per_asset_ms", "peak_rss_mb"]


def test_bench_prints_one_json_line_per_default_size_with_the_documented_keys():
    proc = subprocess.run(
        [sys.executable, str(BENCH)], capture_output=True, text=True, timeout=300, check=True
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [row["n"] for row in rows] == [500, 5000]
    for row in rows:
        assert list(row) == KEYS
        assert all(row[k] > 0 for k in KEYS)
        assert abs(row["per_asset_ms"] - row["materialize_s"] / row["n"] * 1000) < 0.01
