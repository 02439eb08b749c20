"""`assay-agent` as a user runs it: a real process, its exit code and what it prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.agent.config_files import TOKEN, minimal_config, write_config

AGENT = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]


def run_agent(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*AGENT, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def test_check_config_prints_a_summary_with_the_token_masked(project: Path) -> None:
    config = minimal_config()
    config["control_plane"]["token"] = "$ASSAY_AGENT_TOKEN"
    config["code_locations"][0]["env"] = {"WAREHOUSE_PASSWORD": "hunter2-secret"}
    write_config(project, config)

    result = run_agent("check-config", cwd=project, env={"ASSAY_AGENT_TOKEN": TOKEN})

    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout
    assert "pipelines: -m pipelines.defs" in result.stdout
    assert "$ASSAY_AGENT_TOKEN (****9f3a)" in result.stdout
    output = result.stdout + result.stderr
    assert TOKEN not in output
    assert "hunter2-secret" not in output  # env values may be secrets too: names only
    assert "WAREHOUSE_PASSWORD" in result.stdout


def test_check_config_exits_2_naming_the_invalid_field(project: Path) -> None:
    config = minimal_config(code_locations=[{"name": "p", "module": "m", "file": "x.py"}])
    path = write_config(project, config)

    result = run_agent("check-config", "--config", str(path), cwd=project)

    assert result.returncode == 2
    assert "code_locations[0].module" in result.stderr
    assert TOKEN not in result.stdout + result.stderr


def test_check_config_reports_a_missing_config_file(tmp_path: Path) -> None:
    result = run_agent("check-config", "--config", "nope.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "not found" in result.stderr
