"""docs/backfills-schedules-sensors.md: every `assay backfill` line runs, in order, in one
directory, and exits with the status its comment states."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PAGE = (REPO / "docs" / "backfills-schedules-sensors.md").read_text()
BASH = re.compile(r"```bash\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"#\s*exit (\d+)\s*$")


def _commands() -> list[tuple[str, int]]:
    found = []
    for block in BASH.findall(PAGE):
        for line in block.splitlines():
            match = EXIT.search(line)
            if line.startswith("assay backfill") and match:
                found.append((line[: match.start()].strip(), int(match.group(1))))
    return found


def test_backfill_command_lines_in_the_docs_run_in_order(tmp_path):
    commands = _commands()
    assert len(commands) >= 4
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_HOME"}
    env.update({"PYTHONPATH": str(REPO), "COLUMNS": "200"})
    outputs = []
    for command, status in commands:
        proc = subprocess.run(
            [sys.executable, "-m", "assay", *shlex.split(command)[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert proc.returncode == status, command + "\n" + proc.stdout + proc.stderr
        outputs.append(proc.stdout + proc.stderr)
    assert "84 runs, 168 asset partitions (every missing partition)" in outputs[1]
    assert "nothing to backfill" in outputs[2]
    assert "nothing left to run" in outputs[3]
    shown = PAGE.split("the last is refused")[1].split("error: ")[1].splitlines()[0]
    assert shown in " ".join(outputs[4].split())
    assert (tmp_path / ".assay" / "instance.db").exists()
