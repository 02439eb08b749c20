"""The `assay` command line, run as a real subprocess."""

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = "examples.analytics.definitions"
WEEK = ["--from", "2026-11-01", "--to", "2026-11-07"]  # every partition of user_events


def assay(*args, cwd=REPO, env=None):
    return subprocess.run(
        [sys.executable, "-m", "assay", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **(env or {})},
        timeout=120,
    )


@pytest.fixture(autouse=True)
def _assay_home(tmp_path, monkeypatch):
    """Runs are recorded in the instance under $ASSAY_HOME: keep each test's apart."""
    monkeypatch.setenv("ASSAY_HOME", str(tmp_path / "home"))


def write(tmp_path, source, name="project.py"):
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    return str(path)


def test_materialize_runs_the_example_project_and_stores_values(tmp_path):
    proc = assay("materialize", "-m", EXAMPLE, *WEEK, "--storage", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    # Seven partitions of user_events, then daily_metrics and churn_model.
    assert "succeeded: 9 materialized, 0 failed, 0 skipped" in proc.stdout
    assert "check daily_metrics:no_negative_conversions passed" in proc.stdout
    assert (tmp_path / "daily_metrics").exists()
    assert sorted(p.name for p in (tmp_path / "user_events").iterdir()) == [
        f"2026-11-0{day}" for day in range(1, 8)
    ]


def test_a_partitioned_selection_needs_a_partition_or_a_range(tmp_path):
    storage = ["--storage", str(tmp_path)]
    proc = assay("materialize", "-m", EXAMPLE, *storage)
    assert proc.returncode == 2
    assert "asset 'user_events' is partitioned" in proc.stderr
    assert "--partition or --from/--to on the CLI" in proc.stderr
    proc = assay("materialize", "-m", EXAMPLE, "--from", "2026-11-01", *storage)
    assert proc.returncode == 2
    assert "--from and --to go together" in proc.stderr
    proc = assay("materialize", "-m", EXAMPLE, "--partition", "2026-11-02", *WEEK, *storage)
    assert proc.returncode == 2
    assert "give --partition or --from/--to, not both" in proc.stderr
    proc = assay("materialize", "-m", EXAMPLE, "--from", "2026-11-01", "--to", "2026-11-09")
    assert proc.returncode == 2
    assert "2026-11-09" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "user_events").exists()


def test_one_day_of_the_example_materializes_alone(tmp_path):
    proc = assay(
        "materialize", "-m", EXAMPLE, "--select", "user_events", "--partition", "2026-11-03",
        "--storage", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[0].endswith(": 1 step for partition 2026-11-03")
    assert "succeeded: 1 materialized" in proc.stdout
    assert [p.name for p in (tmp_path / "user_events").iterdir()] == ["2026-11-03"]


def test_materialize_with_multiprocess_executor_from_a_file(tmp_path):
    proc = assay(
        "materialize",
        "-f",
        "examples/analytics/definitions.py",
        *WEEK,
        "--executor",
        "multiprocess",
        "--max-concurrent",
        "2",
        "--storage",
        str(tmp_path),
    )
    assert proc.returncode == 0, proc.stderr
    assert "9 materialized" in proc.stdout


def test_a_file_inside_a_package_loads_from_any_working_directory(tmp_path):
    package = tmp_path / "project" / "sales"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "assets.py").write_text(
        "from assay import asset\n\n@asset\ndef orders():\n    return [1, 2]\n"
    )
    (package / "definitions.py").write_text(
        "from assay import Definitions\nfrom sales.assets import orders\n\n"
        "defs = Definitions(assets=[orders])\n"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    proc = assay(
        "materialize", "-f", str(package / "definitions.py"), "--storage", str(tmp_path / "s"),
        cwd=elsewhere,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "succeeded: 1 materialized" in proc.stdout


def test_selection_and_job_pick_a_subset(tmp_path):
    proc = assay(
        "materialize", "-m", EXAMPLE, "--job", "refresh_analytics", *WEEK,
        "--storage", str(tmp_path),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "8 materialized" in proc.stdout  # 7 days of user_events and daily_metrics
    proc = assay(
        "materialize", "-m", EXAMPLE, "--select", "churn_model", "--storage", str(tmp_path)
    )
    assert proc.returncode == 0, proc.stderr
    assert "1 materialized" in proc.stdout


def test_unknown_selection_is_a_readable_error_with_close_matches():
    proc = assay("materialize", "-m", EXAMPLE, "--select", "daily_metric")
    assert proc.returncode == 2
    assert "no asset 'daily_metric'" in proc.stderr
    assert "did you mean 'daily_metrics'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_dynamic_partition_the_instance_does_not_hold_is_refused_and_not_recorded(tmp_path):
    from assay import LocalInstance

    path = write(
        tmp_path,
        """
        from assay import Definitions, DynamicPartitionsDefinition, asset

        @asset(partitions_def=DynamicPartitionsDefinition(name="customers"))
        def export(context):
            return context.partition_key

        defs = Definitions(assets=[export])
        """,
    )
    instance_path = tmp_path / "home" / "instance.db"
    with LocalInstance(instance_path) as instance:
        instance.add_dynamic_partitions("customers", ["acme", "globex"])
    storage = ["--storage", str(tmp_path / "s")]
    refused = assay("materialize", "-f", path, "--partition", "acem", *storage)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "partition key 'acem' does not exist" in refused.stderr
    assert "Traceback" not in refused.stderr
    done = assay("materialize", "-f", path, "--partition", "acme", *storage)
    assert done.returncode == 0, done.stdout + done.stderr
    with LocalInstance(instance_path) as instance:
        runs = {e.run_id for e in instance.get_events()}
        materialized = {e.partition for e in instance.get_events() if e.asset_key}
    assert len(runs) == 1 and materialized == {"acme"}  # the refused run left nothing


def test_failed_step_exits_non_zero_and_shows_the_user_traceback(tmp_path):
    path = write(
        tmp_path,
        """
        from assay import Definitions, asset

        @asset
        def orders():
            return [1]

        @asset
        def totals(orders):
            return 1 / 0

        @asset
        def dashboard(totals):
            return totals

        defs = Definitions(assets=[orders, totals, dashboard])
        """,
    )
    proc = assay("materialize", "-f", path, "--storage", str(tmp_path / "s"))
    assert proc.returncode == 1
    assert "step 'totals' failed: ZeroDivisionError: division by zero" in proc.stderr
    assert "return 1 / 0" in proc.stderr
    assert "skipped 'dashboard': upstream step 'totals' failed" in proc.stdout
    assert "1 failed, 1 skipped" in proc.stderr


def test_list_shows_keys_groups_and_deps_in_dependency_order():
    proc = assay("list", "-m", EXAMPLE, "--json")
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["key"] for r in rows] == ["user_events", "daily_metrics", "churn_model"]
    assert rows[1]["deps"] == ["user_events"]
    assert rows[1]["checks"] == ["no_negative_conversions"]
    assert rows[2]["group"] == "ml"
    table = assay("list", "-m", EXAMPLE)
    assert "daily_metrics" in table.stdout and "analytics" in table.stdout


def test_check_reports_a_valid_code_location():
    proc = assay("check", "-m", EXAMPLE)
    assert proc.returncode == 0
    assert "ok: 3 assets" in proc.stdout


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            """
            from assay import Definitions, asset

            @asset(deps=["b"])
            def a():
                return 1

            @asset(deps=[a])
            def b():
                return 1

            defs = Definitions(assets=[a, b])
            """,
            "assets form a cycle: ",
        ),
        ("x = 1\n", "defines no Definitions object"),
        (
            """
            from assay import Definitions
            one = Definitions()
            two = Definitions()
            """,
            "several Definitions objects (one, two)",
        ),
        ("import not_a_real_module_xyz\n", "No module named 'not_a_real_module_xyz'"),
        (
            """
            from assay import Definitions, asset

            @asset
            def user_events():
                return 1

            @asset
            def daily_metrics(user_event):
                return 1

            defs = Definitions(assets=[user_events, daily_metrics])
            """,
            "'daily_metrics': parameter 'user_event' names no asset and no resource; "
            "did you mean 'user_events'?",
        ),
        (
            """
            from assay import Definitions, asset

            @asset(deps=["user_evnts"])
            def daily_metrics():
                return 1

            defs = Definitions(assets=[daily_metrics])
            """,
            "asset 'daily_metrics' depends on 'user_evnts', which is not defined",
        ),
        (
            """
            from assay import ConfigurableResource, Definitions, asset

            class Warehouse(ConfigurableResource):
                dsn: str

            @asset
            def table(warehouse: Warehouse):
                return 1

            defs = Definitions(assets=[table])
            """,
            "resource not provided: 'warehouse' (needed by table); provided: io_manager",
        ),
    ],
    ids=[
        "cycle",
        "no-definitions",
        "several-definitions",
        "import-error",
        "misspelt-parameter",
        "misspelt-deps",
        "missing-resource",
    ],
)
def test_check_explains_broken_code_locations(tmp_path, source, message):
    proc = assay("check", "-f", write(tmp_path, source))
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "assay/cli" not in proc.stderr  # no internal traceback


def test_missing_module_is_reported():
    proc = assay("list", "-m", "no_such_module_anywhere")
    assert proc.returncode == 2
    assert "no module named 'no_such_module_anywhere'" in proc.stderr


def test_attribute_picks_one_of_several_definitions(tmp_path):
    path = write(
        tmp_path,
        """
        from assay import Definitions, asset

        @asset
        def a():
            return 1

        dev = Definitions(assets=[a])
        prod = Definitions(assets=[a])
        """,
    )
    proc = assay("materialize", "-f", path, "-a", "prod", "--storage", str(tmp_path / "s"))
    assert proc.returncode == 0, proc.stderr
    assert "1 materialized" in proc.stdout


def test_definition_errors_point_at_the_users_line(tmp_path):
    path = write(
        tmp_path,
        """
        from assay import asset

        @asset(key="a", name="b")
        def x():
            return 1
        """,
    )
    proc = assay("check", "-f", path)
    assert proc.returncode == 2
    assert f"pass key= or name=/key_prefix=, not both ({path}, line 4)" in proc.stderr


def test_json_output_streams_every_event_as_a_line(tmp_path):
    from assay import Event, EventType

    proc = assay("materialize", "-m", EXAMPLE, *WEEK, "--json", "--storage", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    events = [Event.from_dict(json.loads(line)) for line in proc.stdout.splitlines()]
    assert events[0].type is EventType.RUN_STARTED
    assert events[0].payload["partition_key_range"] == ["2026-11-01", "2026-11-07"]
    assert events[-1].type is EventType.RUN_SUCCEEDED
    materialized = [
        (str(e.asset_key), e.partition) for e in events if e.type is EventType.ASSET_MATERIALIZATION
    ]
    assert materialized == [
        *(("user_events", f"2026-11-0{day}") for day in range(1, 8)),
        ("daily_metrics", None),
        ("churn_model", None),
    ]


SLOW_PROJECT = """
import time
from assay import Definitions, asset

@asset
def first():
    time.sleep(0.4)
    return 1

@asset
def second(first):
    time.sleep(0.4)
    return 2

defs = Definitions(assets=[first, second])
"""


def test_each_finished_step_line_shows_progress_through_the_run(tmp_path):
    proc = assay("materialize", "-m", EXAMPLE, *WEEK, "--storage", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("run ")
    assert lines[0].endswith(": 4 steps for partitions 2026-11-01 .. 2026-11-07")
    assert "    INFO user_events: fetched 178 events for 2026-11-01 .. 2026-11-07" in lines
    assert "  [1/4] ✓ user_events" in proc.stdout
    assert "  [2/4] ✓ daily_metrics" in proc.stdout
    assert "  [3/4] ✓ check daily_metrics:no_negative_conversions passed" in lines
    assert "  [4/4] ✓ churn_model" in proc.stdout


def test_a_terminal_gets_a_live_progress_line_naming_the_running_step(tmp_path):
    import pty

    path = write(tmp_path, SLOW_PROJECT)
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "materialize", "-f", path, "--storage", str(tmp_path)],
        cwd=REPO,
        stdout=secondary,
        stderr=subprocess.PIPE,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(secondary)
    output = b""
    while True:
        try:
            chunk = os.read(primary, 4096)
        except OSError:  # the terminal closes when the command exits
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    text = output.decode()
    assert "0/2 steps done · running first" in text
    assert "1/2 steps done · running second" in text
    assert "2 materialized, 0 failed, 0 skipped" in text


def test_a_worker_killed_mid_step_fails_that_step_and_the_command_exits_1(tmp_path):
    path = write(
        tmp_path,
        """
        import os, signal
        from assay import Definitions, asset

        @asset
        def oom_victim():
            os.kill(os.getpid(), signal.SIGKILL)

        @asset
        def downstream(oom_victim):
            return 1

        @asset
        def healthy():
            return 1

        defs = Definitions(assets=[oom_victim, downstream, healthy])
        """,
    )
    proc = assay(
        "materialize", "-f", path, "--executor", "multiprocess", "--max-concurrent", "1",
        "--storage", str(tmp_path / "s"),
    )  # fmt: skip
    assert proc.returncode == 1
    assert "✗ step 'oom_victim' failed: its worker process died (killed by SIGKILL)" in proc.stderr
    assert "- skipped 'downstream': upstream step 'oom_victim' failed" in proc.stdout
    assert "✓ healthy" in proc.stdout
    assert "1 materialized, 1 failed, 1 skipped" in proc.stderr


STUCK_PROJECT = """
import os
import time
from pathlib import Path

from assay import Definitions, asset


@asset
def stuck():
    Path(os.environ["PID_FILE"]).write_text(str(os.getpid()))
    time.sleep(60)


defs = Definitions(assets=[stuck])
"""


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_ctrl_c_ends_the_run_as_interrupted_and_leaves_no_worker_behind(tmp_path, executor):
    from assay import AssetKey, EventType, LocalInstance

    path = write(tmp_path, STUCK_PROJECT)
    pid_file = tmp_path / "pid"
    proc = subprocess.Popen(
        [sys.executable, "-m", "assay", "materialize", "-f", path, "--executor", executor],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PID_FILE": str(pid_file)},
        start_new_session=True,  # its own process group, as a terminal's job would be
    )
    deadline = time.monotonic() + 60
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    step_pid = int(pid_file.read_text())
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, out + err
    assert "interrupted" in err and "Traceback" not in err
    with LocalInstance(tmp_path / "home" / "instance.db") as instance:
        events = instance.get_events()
        assert events[-1].type is EventType.RUN_FAILED
        assert events[-1].payload["reason"] == "interrupted"
        assert instance.run_status(events[-1].run_id) == "failed"
        assert not instance.in_progress_subset(AssetKey("stuck"), None)
    if executor == "multiprocess":
        with pytest.raises(ProcessLookupError):
            os.kill(step_pid, 0)  # the worker that ran the step is gone
