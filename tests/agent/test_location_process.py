"""A code location loads in its own process: a snapshot when it works, a traceback when not."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest

from agent.config import CodeLocationConfig
from agent.location_process import MAX_ERROR_BYTES, LocationStatus, load_location
from assay.snapshot import DefinitionsSnapshot


def location(
    directory: Path, *, module: str | None = None, file: str | None = None, **env: str
) -> CodeLocationConfig:
    return CodeLocationConfig(
        name="pipelines",
        module=module,
        file=directory / file if file else None,
        working_directory=directory,
        python=Path(sys.executable),
        env=env,
    )


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(source)


def test_a_module_location_yields_its_definitions_snapshot(project: Path) -> None:
    loaded = load_location(location(project, module="pipelines.defs"))

    assert loaded.status is LocationStatus.OK, loaded.error
    snapshot = DefinitionsSnapshot.from_json(loaded.snapshot_json.decode())
    assert [asset.key for asset in snapshot.assets] == ["numbers"]
    assert loaded.snapshot_id == hashlib.sha256(loaded.snapshot_json).hexdigest()
    assert loaded.snapshot_version == snapshot.version
    assert loaded.sdk_version


def test_a_file_location_yields_its_definitions_snapshot(project: Path) -> None:
    loaded = load_location(location(project, file="pipelines/defs.py"))
    assert loaded.status is LocationStatus.OK, loaded.error


def test_an_import_error_comes_back_as_a_traceback_naming_the_users_line(tmp_path: Path) -> None:
    write_module(tmp_path, "broken", "import json\n\nratio = 1 / 0\n")

    loaded = load_location(location(tmp_path, module="broken"))

    assert loaded.status is LocationStatus.ERROR
    assert "ZeroDivisionError" in loaded.error
    assert "ratio = 1 / 0" in loaded.error
    assert "code location 'pipelines'" in loaded.error
    assert loaded.snapshot_json == b""


def test_a_module_that_exits_the_interpreter_is_reported_not_fatal(tmp_path: Path) -> None:
    write_module(tmp_path, "exits", "import os, sys\nsys.stderr.write('bye\\n')\nos._exit(3)\n")

    loaded = load_location(location(tmp_path, module="exits"))

    assert loaded.status is LocationStatus.ERROR
    assert "exited with code 3" in loaded.error
    assert "bye" in loaded.error


def test_a_module_without_definitions_says_what_to_add(tmp_path: Path) -> None:
    write_module(tmp_path, "empty", "x = 1\n")
    loaded = load_location(location(tmp_path, module="empty"))
    assert loaded.status is LocationStatus.ERROR
    assert "Definitions" in loaded.error


def test_the_agent_token_variable_is_hidden_from_user_code(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_AGENT_TOKEN", "agt_secret")
    write_module(
        project,
        "nosy",
        "import os\n"
        "assert 'ASSAY_AGENT_TOKEN' not in os.environ, 'token leaked to user code'\n"
        "assert os.environ['WAREHOUSE'] == 'snowflake'\n"
        "from pipelines.defs import defs\n",
    )

    loaded = load_location(
        location(project, module="nosy", WAREHOUSE="snowflake"),
        hidden_env_vars={"ASSAY_AGENT_TOKEN"},
    )

    assert loaded.status is LocationStatus.OK, loaded.error
    assert os.environ["ASSAY_AGENT_TOKEN"] == "agt_secret"  # the agent's own env is untouched


def test_a_location_that_hangs_is_reported_after_the_timeout(tmp_path: Path) -> None:
    write_module(tmp_path, "hangs", "import time\ntime.sleep(600)\n")
    loaded = load_location(location(tmp_path, module="hangs"), timeout=1)
    assert loaded.status is LocationStatus.ERROR
    assert "took longer than 1 s" in loaded.error


def test_a_huge_error_is_capped_and_marked_as_truncated(tmp_path: Path) -> None:
    write_module(tmp_path, "loud", "raise RuntimeError('x' * 500_000 + ' the real cause')\n")
    loaded = load_location(location(tmp_path, module="loud"))
    assert loaded.status is LocationStatus.ERROR
    assert len(loaded.error.encode()) <= MAX_ERROR_BYTES
    assert "truncated" in loaded.error
    assert loaded.error.rstrip().endswith("the real cause")


def test_a_missing_interpreter_is_reported_as_a_location_error(project: Path) -> None:
    config = location(project, module="pipelines.defs")
    missing = CodeLocationConfig(
        name=config.name,
        module=config.module,
        file=None,
        working_directory=project,
        python=project / "no-python",
    )
    loaded = load_location(missing)
    assert loaded.status is LocationStatus.ERROR
    assert "cannot start" in loaded.error
