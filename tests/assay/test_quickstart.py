"""The quickstart works as written: its project file, then each terminal command on it."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "quickstart.md").read_text()


def _block(language: str, number: int) -> str:
    return re.findall(rf"```{language}\n(.*?)```", PAGE, re.DOTALL)[number]


def test_quickstart_commands_run_on_the_quickstart_project(tmp_path):
    (tmp_path / "my_project.py").write_text(_block("python", 0))
    commands = [
        line.split("#")[0].strip() for line in _block("bash", 0).splitlines() if line.strip()
    ]
    assert [c.split()[:2] for c in commands] == [
        ["assay", "check"],
        ["assay", "list"],
        ["assay", "materialize"],
        ["assay", "materialize"],
    ]
    outputs = []
    for command in commands:
        proc = subprocess.run(
            [sys.executable, "-m", "assay", *shlex.split(command)[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={k: v for k, v in os.environ.items() if k != "ASSAY_HOME"},
            timeout=120,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stdout}{proc.stderr}"
        outputs.append(proc.stdout)
    assert "ok: 2 assets" in outputs[0]
    assert "daily_revenue" in outputs[1] and "orders" in outputs[1]
    assert "2 materialized" in outputs[2]
    assert (tmp_path / ".assay" / "storage" / "orders").is_file()
    # The last command selects only daily_revenue: orders is loaded from the earlier run.
    assert "1 materialized" in outputs[3]
