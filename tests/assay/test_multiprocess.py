"""The multiprocess executor, with real worker processes."""

import os
import textwrap

import pytest

from assay import EventType, InMemoryIOManager, MultiprocessExecutor, materialize
from assay.errors import ExecutionConfigError
from assay.loading import load_definitions

PROJECT = """
import os, signal, sys, threading, time
from assay import Definitions, asset, asset_check, AssetCheckResult, AssetExecutionContext

@asset
def source():
    return {"pid": os.getpid(), "rows": [1, 2, 3]}

@asset
def left(source):
    return {"pid": os.getpid(), "sum": sum(source["rows"])}

@asset
def right(source):
    return {"pid": os.getpid(), "max": max(source["rows"])}

@asset
def joined(left, right):
    return left["sum"] + right["max"]

@asset_check(asset=joined)
def joined_positive(joined):
    return AssetCheckResult(passed=joined > 0)

@asset
def crashes_hard(source):
    os._exit(17)

@asset
def killed(source):
    os.kill(os.getpid(), signal.SIGKILL)

@asset
def after_crash(crashes_hard):
    return "never"

@asset
def report(left, right):
    return {"pid": os.getpid(), "total": left["sum"] + right["max"]}

@asset
def negative(source):
    return -1

@asset_check(asset=negative, blocking=True)
def must_be_positive(negative):
    return AssetCheckResult(passed=negative > 0, metadata={"value": negative})

@asset
def uses_negative(negative):
    return negative

@asset
def exits(source):
    sys.exit("no config for exits")

@asset
def raises(context: AssetExecutionContext):
    context.log.warning("about to fail")
    raise KeyError("missing column 'amount'")

def _meet(me, other):
    directory = os.environ["MEET_DIR"]
    open(os.path.join(directory, me), "w").close()
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(directory, other)):
        if time.time() > deadline:
            raise TimeoutError(f"{me} never met {other}: steps did not run concurrently")
        time.sleep(0.01)

@asset
def meet_a():
    _meet("a", "b")
    return os.getpid()

@asset
def meet_b():
    _meet("b", "a")
    return os.getpid()

@asset
def dies_when_idle():
    _meet("idle_victim", "slow_sibling")
    # Die 0.3 s after this step has finished, while the worker waits for work.
    threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGKILL)).start()
    return os.getpid()

@asset
def slow_sibling():
    _meet("slow_sibling", "idle_victim")
    time.sleep(1.5)
    return os.getpid()

@asset
def after_both(dies_when_idle, slow_sibling):
    return os.getpid()

defs = Definitions(
    assets=[
        source, left, right, joined, crashes_hard, killed, after_crash, report, negative,
        uses_negative, exits, raises, meet_a, meet_b, dies_when_idle, slow_sibling, after_both,
    ],
    asset_checks=[joined_positive, must_be_positive],
)
"""


@pytest.fixture(scope="module")
def defs(tmp_path_factory):
    path = tmp_path_factory.mktemp("mp") / "mp_project.py"
    path.write_text(textwrap.dedent(PROJECT))
    return load_definitions(file=str(path))


def test_steps_run_in_worker_processes_and_values_pass_through_the_io_manager(defs):
    result = materialize(defs, selection="+joined", executor=MultiprocessExecutor(max_concurrent=2))
    assert result.success, result.failure_message
    assert result.output_for_node("joined") == 9
    pids = {result.output_for_node(n)["pid"] for n in ("source", "left", "right")}
    assert os.getpid() not in pids
    assert result.get_asset_check_evaluations()[0].passed


def test_independent_steps_run_at_the_same_time(defs, tmp_path, monkeypatch):
    monkeypatch.setenv("MEET_DIR", str(tmp_path))
    result = materialize(defs, selection="meet_a, meet_b", executor=MultiprocessExecutor(2))
    assert result.success, result.failure_message
    assert result.output_for_node("meet_a") != result.output_for_node("meet_b")


def test_a_step_that_kills_its_worker_fails_and_the_rest_proceed(defs):
    result = materialize(
        defs,
        selection="source, left, right, crashes_hard, killed, after_crash",
        executor=MultiprocessExecutor(max_concurrent=2),
    )
    assert not result.success
    failures = {e.step_key: e.message for e in result.get_step_failure_events()}
    assert set(failures) == {"crashes_hard", "killed"}
    assert "worker process died (exit code 17)" in failures["crashes_hard"]
    assert "killed by SIGKILL" in failures["killed"]
    assert result.skipped_steps == ["after_crash"]
    assert {str(k) for k in result.materialized_keys} == {"source", "left", "right"}
    assert result.events[-1].type is EventType.RUN_FAILED


def test_one_worker_process_is_reused_for_every_step(defs):
    result = materialize(defs, selection="+joined", executor=MultiprocessExecutor(1))
    assert result.success, result.failure_message
    pids = {result.output_for_node(n)["pid"] for n in ("source", "left", "right")}
    assert len(pids) == 1 and os.getpid() not in pids


def test_a_replacement_worker_runs_the_steps_after_a_worker_dies(defs):
    result = materialize(
        defs,
        selection="source, left, right, crashes_hard, report",
        executor=MultiprocessExecutor(max_concurrent=1),
    )
    assert [e.step_key for e in result.get_step_failure_events()] == ["crashes_hard"]
    first_worker = result.output_for_node("left")["pid"]
    assert result.output_for_node("right")["pid"] == first_worker
    report = result.output_for_node("report")
    assert report["total"] == 9
    assert report["pid"] != first_worker  # the dead worker was replaced, and the run went on
    assert not result.success


def test_a_worker_that_dies_between_steps_is_reported_and_replaced(defs, tmp_path, monkeypatch):
    monkeypatch.setenv("MEET_DIR", str(tmp_path))
    result = materialize(
        defs, selection="+after_both", executor=MultiprocessExecutor(max_concurrent=2)
    )
    assert result.success, result.failure_message
    victim = result.output_for_node("dies_when_idle")
    assert result.output_for_node("after_both") != victim
    warnings = [e.message for e in result.events if e.type is EventType.LOG]
    assert warnings == ["a worker process died between steps (killed by SIGKILL); it was replaced"]


def test_sys_exit_in_a_step_fails_only_that_step_and_keeps_the_worker(defs):
    result = materialize(defs, selection="source, exits, left", executor=MultiprocessExecutor(1))
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "exits"
    assert failure.message == "step 'exits' failed: SystemExit: no config for exits"
    assert 'sys.exit("no config for exits")' in failure.payload["error"]["stack"]
    assert result.output_for_node("left")["pid"] == result.output_for_node("source")["pid"]


def test_failed_blocking_check_in_a_worker_skips_downstream_with_the_reason(defs):
    result = materialize(
        defs, selection="+negative+", executor=MultiprocessExecutor(max_concurrent=2)
    )
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert (evaluation.check_name, evaluation.passed) == ("must_be_positive", False)
    (skip,) = result.get_step_skipped_events()
    assert skip.step_key == "uses_negative"
    assert skip.payload["reason"] == "blocking check 'negative:must_be_positive' failed"
    assert result.failure_message == "blocking check 'negative:must_be_positive' failed"


def test_user_exceptions_in_workers_keep_their_traceback_and_logs(defs):
    result = materialize(defs, selection="raises", executor="multiprocess")
    (failure,) = result.get_step_failure_events()
    assert "KeyError" in failure.message
    assert "raise KeyError" in failure.payload["error"]["stack"]
    logs = [e.payload["message"] for e in result.events if e.type is EventType.LOG]
    assert "about to fail" in logs


def test_in_memory_io_with_multiprocess_is_rejected_with_an_explanation(defs):
    with pytest.raises(ExecutionConfigError, match="FilesystemIOManager"):
        materialize(
            defs,
            resources={"io_manager": InMemoryIOManager()},
            selection="+left",
            executor="multiprocess",
        )


def test_assets_defined_inside_a_function_cannot_cross_processes():
    from assay import asset

    @asset
    def local():
        return 1

    with pytest.raises(ExecutionConfigError, match="top level of an importable module"):
        materialize([local], executor="multiprocess")


def test_worker_that_cannot_open_resources_fails_the_run_with_the_reason(tmp_path, monkeypatch):
    monkeypatch.delenv("ASSAY_TEST_UNSET_DSN", raising=False)
    path = tmp_path / "needs_db.py"
    path.write_text(
        textwrap.dedent(
            """
            from assay import ConfigurableResource, Definitions, EnvVar, asset

            class Db(ConfigurableResource):
                url: str

            @asset
            def table(db: Db):
                return db.url

            defs = Definitions(
                assets=[table], resources={"db": Db(url=EnvVar("ASSAY_TEST_UNSET_DSN"))}
            )
            """
        )
    )
    result = materialize(load_definitions(file=str(path)), executor=MultiprocessExecutor(1))
    assert not result.success
    assert "ASSAY_TEST_UNSET_DSN is not set" in result.failure_message


def test_unpicklable_resource_is_rejected_before_the_run_starts_naming_it(tmp_path):
    path = tmp_path / "with_client.py"
    path.write_text(
        textwrap.dedent(
            """
            import threading
            from assay import Definitions, asset

            class Client:
                def __init__(self):
                    self.lock = threading.Lock()

            @asset
            def table(client):
                return 1

            defs = Definitions(assets=[table], resources={"client": Client()})
            """
        )
    )
    seen = []
    with pytest.raises(ExecutionConfigError, match="resource 'client' cannot be sent to worker"):
        materialize(
            load_definitions(file=str(path)),
            executor="multiprocess",
            on_event=seen.append,
        )
    assert seen == []  # no run was reported started


def test_values_load_from_a_filesystem_io_manager_configured_by_env_var(tmp_path, monkeypatch):
    storage = tmp_path / "storage"
    monkeypatch.setenv("ASSAY_TEST_STORAGE", str(storage))
    path = tmp_path / "env_storage.py"
    path.write_text(
        textwrap.dedent(
            """
            from assay import Definitions, EnvVar, FilesystemIOManager, asset

            @asset
            def rows():
                return [1, 2, 3]

            @asset
            def row_count(rows):
                return len(rows)

            storage = FilesystemIOManager(base_dir=EnvVar("ASSAY_TEST_STORAGE"))
            defs = Definitions(assets=[rows, row_count], resources={"io_manager": storage})
            """
        )
    )
    result = materialize(load_definitions(file=str(path)), executor=MultiprocessExecutor(1))
    assert result.success, result.failure_message
    assert (storage / "rows").is_file()
    assert result.output_for_node("row_count") == 3


def test_each_worker_sets_up_and_tears_down_its_resources_once(tmp_path, monkeypatch):
    log_dir = tmp_path / "lifecycle"
    log_dir.mkdir()
    monkeypatch.setenv("ASSAY_TEST_LOG_DIR", str(log_dir))
    path = tmp_path / "tracked.py"
    path.write_text(
        textwrap.dedent(
            """
            import os
            from assay import ConfigurableResource, Definitions, EnvVar, asset

            class Tracked(ConfigurableResource):
                log_dir: str

                def _mark(self, what):
                    open(os.path.join(self.log_dir, f"{what}-{os.getpid()}"), "w").close()

                def setup_for_execution(self, context):
                    self._mark("setup")

                def teardown_after_execution(self, context):
                    self._mark("teardown")
                    raise RuntimeError("could not close the pool")

            @asset
            def a(tracked: Tracked):
                return os.getpid()

            @asset
            def b(tracked: Tracked):
                return os.getpid()

            @asset
            def c(tracked: Tracked, a, b):
                return os.getpid()

            defs = Definitions(
                assets=[a, b, c],
                resources={"tracked": Tracked(log_dir=EnvVar("ASSAY_TEST_LOG_DIR"))},
            )
            """
        )
    )
    result = materialize(load_definitions(file=str(path)), executor=MultiprocessExecutor(2))
    assert result.success, result.failure_message
    # Every started worker (at most 2; one may have run all three steps) opened the
    # resource once and closed it once, and each failed teardown was reported.
    marks = sorted(p.name for p in log_dir.iterdir())
    workers = {int(m.split("-")[1]) for m in marks}
    assert 1 <= len(workers) <= 2
    assert {result.output_for_node(n) for n in ("a", "b", "c")} <= workers
    assert marks == sorted(f"{what}-{pid}" for pid in workers for what in ("setup", "teardown"))
    errors = [e.message for e in result.events if e.type is EventType.LOG]
    assert errors == [
        "resource 'tracked' failed to tear down: RuntimeError: could not close the pool"
    ] * len(workers)
