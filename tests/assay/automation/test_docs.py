"""docs/automation.md: every python block runs in order; every `assay automation` line
runs against the page's first example and exits with the status its comment states."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
PAGE = (REPO / "docs" / "automation.md").read_text()
PYTHON = re.compile(r"```python\n(.*?)```", re.DOTALL)
BASH = re.compile(r"```bash\n(.*?)```", re.DOTALL)
EXIT = re.compile(r"#\s*exit (\d+)\s*$")


def test_python_examples_in_automation_docs_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "docs_automation_md"}
    blocks = PYTHON.findall(PAGE)
    assert len(blocks) >= 6
    for number, block in enumerate(blocks, start=1):
        exec(compile(block, f"automation.md block {number}", "exec"), namespace)


def _commands() -> list[tuple[str, int]]:
    found = []
    for block in BASH.findall(PAGE):
        for line in block.splitlines():
            match = EXIT.search(line)
            if line.startswith("assay automation") and match:
                found.append((line[: match.start()].strip(), int(match.group(1))))
    return found


COMMANDS = _commands()


def test_automation_docs_show_the_tick_command():
    assert len(COMMANDS) >= 3


@pytest.fixture(scope="module")
def pipeline_dir(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pipeline")
    (directory / "pipeline.py").write_text(PYTHON.findall(PAGE)[0])
    return directory


@pytest.mark.parametrize(("command", "status"), COMMANDS, ids=[c for c, _ in COMMANDS])
def test_automation_docs_command_runs(command, status, pipeline_dir):
    proc = subprocess.run(
        [sys.executable, "-m", "assay", *shlex.split(command)[1:]],
        cwd=pipeline_dir,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)},
        timeout=60,
    )
    assert proc.returncode == status, proc.stdout + proc.stderr


COMPOSITION = re.compile(r"### `(\w+)\(.*?`\n.*?```\n(.*?)```", re.DOTALL)


def test_each_built_in_is_documented_as_the_composition_it_is():
    from assay.automation import AutomationCondition as AC

    documented = {name: " ".join(text.split()) for name, text in COMPOSITION.findall(PAGE)}
    actual = {
        "eager": AC.eager().describe(),
        "on_cron": AC.on_cron("0 6 * * *").describe().replace("'0 6 * * *'", "cron"),
        "on_missing": AC.on_missing().describe(),
    }
    assert documented == actual
