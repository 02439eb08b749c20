"""Sensors and schedule functions run in the location's own interpreter: their decisions
come back, and whatever they do wrong becomes an error for that tick only."""

from __future__ import annotations

import logging
import os
import sys
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent import convert
from agent.config import CodeLocationConfig
from agent.launcher import ProcessRunLauncher
from agent.tick_process import MAX_RUN_REQUESTS, TickRequest, evaluate_tick

PROJECT = """
import os, sys, time
from assay import (AddDynamicPartitionsRequest, ConfigurableResource, Definitions, RunRequest,
                   SensorResult, SkipReason, asset, schedule, sensor)


class Inbox(ConfigurableResource):
    folder: str


@asset
def orders() -> int:
    return 1


@sensor(target=orders, minimum_interval_seconds=5)
def new_files(context):
    seen = int(context.cursor or 0)
    files = sorted(os.listdir(context.resources["inbox"].folder))
    fresh = files[seen:]
    if not fresh:
        return SkipReason(f"no new files after {seen}")
    print("customer data printed by the sensor: SECRET-ROWS")
    return SensorResult(
        run_requests=[RunRequest(run_key=name, tags={"file": name}) for name in fresh],
        cursor=str(len(files)),
        dynamic_partitions_requests=[AddDynamicPartitionsRequest("files", tuple(fresh))],
    )


@sensor(target=orders)
def broken():
    raise RuntimeError("the vendor API is down")


@sensor(target=orders)
def stuck():
    time.sleep(60)


@sensor(target=orders)
def exits():
    sys.exit(3)


@sensor(target=orders)
def flood():
    return [RunRequest(run_key=str(i)) for i in range(MAX + 1)]


@schedule(cron_schedule="0 6 * * *", target=orders, name="morning")
def morning(context):
    return RunRequest(tags={"day": context.scheduled_execution_time.date().isoformat()})


MAX = int(os.environ["MAX_REQUESTS"])
defs = Definitions(assets=[orders], sensors=[new_files, broken, stuck, exits, flood],
                   schedules=[morning], resources={"inbox": Inbox(folder=os.environ["INBOX"])})
"""

NOW = datetime(2024, 3, 1, 6, 0, tzinfo=UTC)


@pytest.fixture
def location(tmp_path: Path) -> CodeLocationConfig:
    (tmp_path / "project.py").write_text(PROJECT)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return CodeLocationConfig(
        name="shop",
        module="project",
        file=None,
        working_directory=tmp_path,
        python=Path(sys.executable),
        env={"INBOX": str(inbox), "MAX_REQUESTS": str(MAX_RUN_REQUESTS)},
    )


@pytest.fixture(params=["warm", "cold"])
def evaluate(request, tmp_path):
    """Evaluate through a warm process's forked child (how the agent runs ticks), and
    through a fresh interpreter (its fallback): the answers must be the same."""
    launchers: list[ProcessRunLauncher] = []

    def evaluate(location, tick_request, *, hidden_env_vars=()):
        warm = None
        if request.param == "warm":
            launcher = ProcessRunLauncher(
                tmp_path / "state", lambda entries: None, hidden_env_vars=hidden_env_vars
            )
            launchers.append(launcher)
            warm = launcher.evaluate_tick
        return evaluate_tick(location, tick_request, hidden_env_vars=hidden_env_vars, warm=warm)

    yield evaluate
    for launcher in launchers:
        launcher.close()


def tick(kind: str, name: str, *, cursor: str | None = None, timeout: float = 30.0):
    return TickRequest(
        request_id="t-1",
        deployment="prod",
        location_name="shop",
        kind=kind,
        name=name,
        evaluation_time=NOW,
        cursor=cursor,
        timeout_seconds=timeout,
    )


def test_a_sensor_returns_run_requests_cursor_and_dynamic_partitions(location, evaluate) -> None:
    inbox = Path(location.env["INBOX"])
    (inbox / "a.csv").write_text("x")
    (inbox / "b.csv").write_text("y")

    outcome = evaluate(location, tick("sensor", "new_files"))

    assert outcome.error == ""
    assert [r["run_key"] for r in outcome.run_requests] == ["a.csv", "b.csv"]
    assert outcome.run_requests[0]["tags"] == {"file": "a.csv"}
    assert outcome.cursor == "2"
    assert outcome.dynamic_partitions == (
        {"name": "files", "add": ["a.csv", "b.csv"], "delete": []},
    )
    message = convert.tick_result(outcome).SerializeToString()
    assert b"SECRET-ROWS" not in message  # what the function printed stays on this side


def test_the_cursor_carries_over_and_a_skip_says_why(location, evaluate) -> None:
    (Path(location.env["INBOX"]) / "a.csv").write_text("x")
    outcome = evaluate(location, tick("sensor", "new_files", cursor="1"))
    assert outcome.run_requests == ()
    assert outcome.skip_reason == "no new files after 1"
    assert outcome.cursor == "1"


def test_a_schedule_function_runs_for_its_scheduled_time(location, evaluate) -> None:
    outcome = evaluate(location, tick("schedule", "morning"))
    assert outcome.error == ""
    [request] = outcome.run_requests
    assert request["tags"] == {"day": "2024-03-01"}
    assert request["run_key"]  # a schedule's runs are deduplicated per tick time
    assert outcome.cursor is None


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("broken", "RuntimeError: the vendor API is down"),
        ("exits", "it called sys.exit(3)"),
        ("flood", f"the limit is {MAX_RUN_REQUESTS}"),
        ("missing", "no sensor named 'missing'"),
    ],
)
def test_what_a_sensor_does_wrong_is_an_error_for_its_tick(
    location, evaluate, name, expected
) -> None:
    outcome = evaluate(location, tick("sensor", name))
    assert expected in outcome.error
    assert outcome.run_requests == ()


def test_a_sensor_that_hangs_is_stopped_at_its_timeout(location, evaluate) -> None:
    outcome = evaluate(location, tick("sensor", "stuck", timeout=3))
    assert "timed out after 3 s" in outcome.error


def test_the_agent_token_variable_is_hidden_from_sensors(location, evaluate, tmp_path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import os\nfrom assay import Definitions, SkipReason, sensor, asset\n"
        "@asset\ndef a() -> int:\n    return 1\n"
        "@sensor(target=a)\ndef peek():\n"
        "    return SkipReason(os.environ.get('ASSAY_AGENT_TOKEN', 'hidden'))\n"
        "defs = Definitions(assets=[a], sensors=[peek])\n"
    )
    os.environ["ASSAY_AGENT_TOKEN"] = "agent_secret"
    try:
        outcome = evaluate(
            CodeLocationConfig("shop", "probe", None, tmp_path, Path(sys.executable)),
            tick("sensor", "peek"),
            hidden_env_vars=("ASSAY_AGENT_TOKEN",),
        )
    finally:
        del os.environ["ASSAY_AGENT_TOKEN"]
    assert outcome.skip_reason == "hidden"


def test_the_agent_evaluates_ticks_from_the_warm_process_importing_the_location_once(
    tmp_path,
) -> None:
    (tmp_path / "counted.py").write_text(
        "from pathlib import Path\n"
        "from assay import Definitions, SkipReason, asset, sensor\n"
        "with open(Path(__file__).with_name('imports.log'), 'a') as log:\n"
        "    log.write('imported\\n')\n"
        "@asset\ndef a() -> int:\n    return 1\n"
        "@sensor(target=a)\ndef quiet():\n    return SkipReason('nothing new')\n"
        "defs = Definitions(assets=[a], sensors=[quiet])\n"
    )
    location = CodeLocationConfig("shop", "counted", None, tmp_path, Path(sys.executable))
    launcher = ProcessRunLauncher(tmp_path / "state", lambda entries: None)
    try:
        for _ in range(3):
            outcome = evaluate_tick(location, tick("sensor", "quiet"), warm=launcher.evaluate_tick)
            assert outcome.skip_reason == "nothing new"
    finally:
        launcher.close()
    assert (tmp_path / "imports.log").read_text().splitlines() == ["imported"]


def test_a_sensor_whose_name_holds_a_slash_is_evaluated_and_its_output_kept(tmp_path) -> None:
    (tmp_path / "slashed.py").write_text(
        "from assay import Definitions, SkipReason, asset, sensor\n"
        "@asset\ndef a() -> int:\n    return 1\n"
        "@sensor(target=a, name='s3/new_files')\n"
        "def watch():\n    print('listing the bucket')\n    return SkipReason('empty bucket')\n"
        "defs = Definitions(assets=[a], sensors=[watch])\n"
    )
    location = CodeLocationConfig("shop", "slashed", None, tmp_path, Path(sys.executable))
    launcher = ProcessRunLauncher(tmp_path / "state", lambda entries: None)
    try:
        outcome = evaluate_tick(
            location, tick("sensor", "s3/new_files"), warm=launcher.evaluate_tick
        )
    finally:
        launcher.close()
    assert (outcome.error, outcome.skip_reason) == ("", "empty bucket")
    [log] = (tmp_path / "state" / "ticks").glob("sensor-*.log")
    assert log.read_text() == "listing the bucket\n"


RESOURCES_PROJECT = """
import os
from pathlib import Path
from assay import ConfigurableResource, Definitions, RunRequest, SkipReason, asset, schedule, sensor

LIFECYCLE = Path(__file__).with_name("lifecycle.log")


def record(line):
    with open(LIFECYCLE, "a") as log:
        log.write(line + "\\n")


class Warehouse(ConfigurableResource):
    dsn: str

    def setup_for_execution(self, context):
        record("setup warehouse")
        raise ConnectionError("the warehouse is unreachable")


class Inbox(ConfigurableResource):
    folder: str

    def setup_for_execution(self, context):
        record("setup inbox")

    def teardown_after_execution(self, context):
        record("teardown inbox")
        if os.environ.get("INBOX_TEARDOWN_FAILS"):
            raise OSError("the inbox lock was lost")


@asset
def a() -> int:
    return 1


@sensor(target=a)
def list_files(context):
    assert "warehouse" in context.resources  # asking does not open it
    assert context.resources["inbox"] is context.resources["inbox"]  # opened once
    return SkipReason(",".join(sorted(os.listdir(context.resources["inbox"].folder))))


@sensor(target=a)
def count_rows(context):
    return SkipReason(str(context.resources["warehouse"].dsn))


@schedule(cron_schedule="0 6 * * *", target=a)
def daily(context):
    return RunRequest(tags={"files": str(len(os.listdir(context.resources["inbox"].folder)))})


defs = Definitions(assets=[a], sensors=[list_files, count_rows], schedules=[daily],
                   resources={"inbox": Inbox(folder=os.environ["INBOX"]),
                              "warehouse": Warehouse(dsn="postgres://warehouse")})
"""


@pytest.fixture
def resource_location(tmp_path: Path) -> CodeLocationConfig:
    (tmp_path / "stores.py").write_text(RESOURCES_PROJECT)
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("x")
    return CodeLocationConfig(
        "shop", "stores", None, tmp_path, Path(sys.executable), env={"INBOX": str(inbox)}
    )


def lifecycle(location: CodeLocationConfig) -> list[str]:
    path = location.working_directory / "lifecycle.log"
    return path.read_text().splitlines() if path.exists() else []


def test_a_tick_opens_only_the_resources_its_function_reads(resource_location, evaluate) -> None:
    sensor_outcome = evaluate(resource_location, tick("sensor", "list_files"))
    schedule_outcome = evaluate(resource_location, tick("schedule", "daily"))

    assert (sensor_outcome.error, sensor_outcome.skip_reason) == ("", "a.csv")
    assert schedule_outcome.error == ""
    assert [r["tags"] for r in schedule_outcome.run_requests] == [{"files": "1"}]
    # Read several times, opened once, torn down once; the warehouse it never read stays closed.
    assert lifecycle(resource_location) == ["setup inbox", "teardown inbox"] * 2


def test_a_resource_that_cannot_start_fails_only_the_ticks_that_read_it(
    resource_location, evaluate
) -> None:
    outcome = evaluate(resource_location, tick("sensor", "count_rows"))
    assert outcome.run_requests == ()
    assert (
        "resource 'warehouse' failed to start: ConnectionError: the warehouse is unreachable"
        in outcome.error
    )
    assert lifecycle(resource_location) == ["setup warehouse"]


def test_a_teardown_error_is_logged_by_the_agent_and_the_decision_stands(
    resource_location, evaluate, caplog
) -> None:
    location = replace(
        resource_location, env={**resource_location.env, "INBOX_TEARDOWN_FAILS": "1"}
    )
    with caplog.at_level(logging.WARNING, logger="agent.tick_process"):
        outcome = evaluate(location, tick("schedule", "daily"))
    assert outcome.error == ""
    assert [r["tags"] for r in outcome.run_requests] == [{"files": "1"}]
    assert (
        "code location shop: schedule 'daily': resource 'inbox' failed to tear down: "
        "OSError: the inbox lock was lost" in caplog.text
    )


def test_a_teardown_error_follows_the_error_of_a_tick_that_failed(
    resource_location, evaluate
) -> None:
    (Path(resource_location.env["INBOX"]) / "a.csv").unlink()
    Path(resource_location.env["INBOX"]).rmdir()  # listing it raises
    location = replace(
        resource_location, env={**resource_location.env, "INBOX_TEARDOWN_FAILS": "1"}
    )
    outcome = evaluate(location, tick("sensor", "list_files"))
    assert "sensor 'list_files' raised FileNotFoundError" in outcome.error
    assert outcome.error.rstrip().endswith(
        "resource 'inbox' failed to tear down: OSError: the inbox lock was lost"
    )
