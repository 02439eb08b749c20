"""Each `assay ...` line in docs/cli.md runs and exits with the status its comment states."""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BLOCK = re.compile(r"```bash\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"#\s*exit (\d+)\s*$")


def _commands():
    text = (REPO / "docs" / "cli.md").read_text()
    for block in BLOCK.findall(text):
        for line in block.splitlines():
            match = EXIT.search(line)
            if line.startswith("assay ") and match:
                yield line[: match.start()].strip(), int(match.group(1))


COMMANDS = list(_commands())


def test_cli_doc_has_examples():
    assert len(COMMANDS) >= 8


@pytest.mark.parametrize(("command", "status"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_cli_doc_example_runs(command, status, tmp_path):
    args = shlex.split(command)[1:]
    proc = subprocess.run(
        [sys.executable, "-m", "assay", *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        env={**os.environ, "ASSAY_HOME": str(tmp_path)},
        timeout=120,
    )
    assert proc.returncode == status, proc.stdout + proc.stderr
