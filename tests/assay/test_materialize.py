"""In-process materialization: values, events, failures, checks, resources and IO managers."""

import json

import pytest

from assay import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    ConfigurableResource,
    Definitions,
    EnvVar,
    Event,
    EventType,
    FilesystemIOManager,
    MaterializeResult,
    Output,
    ResourceError,
    asset,
    asset_check,
    materialize,
)
from assay.errors import AssayError


@asset
def numbers():
    return [1, 2, 3]


@asset
def total(numbers):
    return sum(numbers)


@asset
def report(total):
    return f"total={total}"


def types_of(result):
    return [e.type for e in result.events]


def test_values_flow_downstream_and_the_run_succeeds():
    result = materialize([numbers, total, report])
    assert result.success
    assert result.output_for_node("report") == "total=6"
    assert [str(k) for k in result.materialized_keys] == ["numbers", "total", "report"]


def test_event_stream_is_ordered_and_complete():
    result = materialize([numbers, total])
    assert types_of(result) == [
        EventType.RUN_STARTED,
        EventType.STEP_STARTED,
        EventType.ASSET_MATERIALIZATION,
        EventType.STEP_SUCCEEDED,
        EventType.STEP_STARTED,
        EventType.ASSET_MATERIALIZATION,
        EventType.STEP_SUCCEEDED,
        EventType.RUN_SUCCEEDED,
    ]
    assert len({e.id for e in result.events}) == len(result.events)
    assert {e.run_id for e in result.events} == {result.run_id}


def test_events_round_trip_through_json():
    result = materialize([numbers, total])
    for event in result.events:
        data = json.loads(json.dumps(event.to_dict()))
        assert Event.from_dict(data) == event


def test_user_exception_fails_the_step_with_traceback_and_skips_downstream():
    @asset
    def broken(numbers):
        raise ValueError("bad input row 7")

    @asset
    def after(broken):
        return broken

    result = materialize([numbers, broken, after])
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "broken"
    assert "ValueError: bad input row 7" in failure.message
    assert 'raise ValueError("bad input row 7")' in failure.payload["error"]["stack"]
    (skip,) = result.get_step_skipped_events()
    assert skip.step_key == "after"
    assert "upstream step 'broken' failed" in skip.payload["reason"]
    assert result.events[-1].type is EventType.RUN_FAILED


def test_sys_exit_in_an_asset_fails_its_step_instead_of_ending_the_run():
    import sys

    @asset
    def quits():
        sys.exit("config file missing")

    @asset
    def after_quits(quits):
        return quits

    result = materialize([quits, after_quits, numbers])
    (failure,) = result.get_step_failure_events()
    assert failure.message == "step 'quits' failed: SystemExit: config file missing"
    assert 'sys.exit("config file missing")' in failure.payload["error"]["stack"]
    assert result.skipped_steps == ["after_quits"]
    assert result.output_for_node("numbers") == [1, 2, 3]
    assert result.events[-1].type is EventType.RUN_FAILED
    assert result.failure_message == "step 'quits' failed"


def test_independent_branches_still_run_when_one_fails():
    @asset
    def bad():
        raise RuntimeError("boom")

    @asset
    def good():
        return 1

    result = materialize([bad, good])
    assert not result.success
    assert result.output_for_node("good") == 1


def test_output_and_materialize_result_carry_metadata():
    @asset(code_version="7")
    def table():
        return Output([1, 2], metadata={"row_count": 2, "path": AssetKey("x")})

    @asset(deps=[table])
    def external_write():
        return MaterializeResult(metadata={"rows_written": 5}, data_version="abc")

    result = materialize([table, external_write])
    (m,) = result.asset_materializations_for_node("table")
    assert m.payload == {"metadata": {"row_count": 2, "path": "x"}, "code_version": "7"}
    (m,) = result.asset_materializations_for_node("external_write")
    assert m.payload == {"metadata": {"rows_written": 5}, "data_version": "abc"}


def test_context_exposes_run_and_asset_and_logs_become_events():
    seen = {}

    @asset(key_prefix="ns")
    def logged(context: AssetExecutionContext):
        seen["key"] = context.asset_key
        seen["run_id"] = context.run_id
        seen["partition_key"] = context.partition_key
        context.log.info("processed %d rows", 3)
        context.add_output_metadata({"rows": 3})
        return 1

    result = materialize([logged])
    assert seen == {
        "key": AssetKey(["ns", "logged"]),
        "run_id": result.run_id,
        "partition_key": None,
    }
    logs = [e for e in result.events if e.type is EventType.LOG]
    assert logs[0].payload == {"level": "INFO", "message": "processed 3 rows"}
    assert result.asset_materializations_for_node("ns/logged")[0].payload["metadata"] == {"rows": 3}


def test_selection_runs_a_subset():
    result = materialize([numbers, total, report], selection="total+")
    assert not result.success  # numbers is not in memory: nothing stored it in this run
    result = materialize([numbers, total, report], selection="+total")
    assert result.success
    assert [str(k) for k in result.materialized_keys] == ["numbers", "total"]


def test_filesystem_io_manager_lets_a_later_run_load_earlier_values(tmp_path):
    io = {"io_manager": FilesystemIOManager(base_dir=str(tmp_path))}
    assert materialize([numbers, total, report], resources=io, selection="numbers").success
    assert (tmp_path / "numbers").exists()
    result = materialize([numbers, total, report], resources=io, selection="total+")
    assert result.success
    assert result.output_for_node("report") == "total=6"


# ---- checks --------------------------------------------------------------------------------


def _checked(blocking, severity=AssetCheckSeverity.ERROR, passed=False):
    @asset
    def orders():
        return [5, -1]

    @asset_check(asset=orders, blocking=blocking, description="amounts are positive")
    def positive_amounts(orders):
        negatives = [o for o in orders if o < 0]
        return AssetCheckResult(
            passed=passed, severity=severity, metadata={"negatives": len(negatives)}
        )

    @asset
    def revenue(orders):
        return sum(orders)

    return [orders, positive_amounts, revenue]


def test_check_evaluations_are_reported_with_metadata():
    result = materialize(_checked(blocking=False, passed=True))
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.asset_key == AssetKey("orders")
    assert evaluation.check_name == "positive_amounts"
    assert evaluation.passed
    assert evaluation.metadata == {"negatives": 1}


def test_blocking_check_failure_skips_downstream_assets():
    result = materialize(_checked(blocking=True))
    assert not result.success
    (skip,) = result.get_step_skipped_events()
    assert skip.step_key == "revenue"
    assert "orders:positive_amounts" in skip.payload["reason"]
    assert "blocking check" in result.failure_message


def test_non_blocking_failed_check_does_not_stop_downstream():
    result = materialize(_checked(blocking=False))
    assert result.success
    assert result.output_for_node("revenue") == 4
    assert not result.get_asset_check_evaluations()[0].passed


def test_blocking_warn_check_does_not_block():
    result = materialize(_checked(blocking=True, severity=AssetCheckSeverity.WARN))
    assert result.success
    assert result.output_for_node("revenue") == 4


def test_check_results_returned_with_the_asset_can_block():
    @asset(check_specs=[AssetCheckSpec("not_empty", asset="rows", blocking=True)])
    def rows():
        return MaterializeResult(check_results=[AssetCheckResult(passed=False)])

    @asset(deps=[rows])
    def downstream():
        return 1

    result = materialize([rows, downstream])
    assert result.get_asset_check_evaluations()[0].check_name == "not_empty"
    assert result.skipped_steps == ["downstream"]


def test_check_is_skipped_when_its_asset_fails():
    @asset
    def orders():
        raise RuntimeError("db down")

    @asset_check(asset=orders)
    def non_empty(orders):
        return AssetCheckResult(passed=bool(orders))

    result = materialize([orders, non_empty])
    assert result.skipped_steps == ["orders:non_empty"]


# ---- resources -----------------------------------------------------------------------------


class Warehouse(ConfigurableResource):
    dsn: str
    pool_size: int = 2

    def setup_for_execution(self, context):
        LIFECYCLE.append(("setup", self.dsn, self.pool_size))

    def teardown_after_execution(self, context):
        LIFECYCLE.append(("teardown", self.dsn))


LIFECYCLE = []


def test_resources_are_injected_by_name_and_set_up_and_torn_down_once():
    LIFECYCLE.clear()

    @asset
    def a(warehouse: Warehouse):
        return warehouse.dsn

    @asset
    def b(a, warehouse: Warehouse):
        return a + "!"

    result = materialize([a, b], resources={"warehouse": Warehouse(dsn="duckdb://dev")})
    assert result.output_for_node("b") == "duckdb://dev!"
    assert LIFECYCLE == [("setup", "duckdb://dev", 2), ("teardown", "duckdb://dev")]


def test_resources_are_torn_down_even_when_the_run_fails():
    LIFECYCLE.clear()

    @asset
    def a(warehouse: Warehouse):
        raise RuntimeError("query failed")

    result = materialize([a], resources={"warehouse": Warehouse(dsn="x")})
    assert not result.success
    assert LIFECYCLE[-1] == ("teardown", "x")


def test_env_var_config_is_read_at_run_time_and_typed(monkeypatch):
    LIFECYCLE.clear()
    monkeypatch.setenv("WH_DSN", "postgres://prod")
    monkeypatch.setenv("WH_POOL", "8")

    @asset
    def a(warehouse: Warehouse):
        return (warehouse.dsn, warehouse.pool_size)

    resource = Warehouse(dsn=EnvVar("WH_DSN"), pool_size=EnvVar("WH_POOL"))
    assert materialize([a], resources={"warehouse": resource}).output_for_node("a") == (
        "postgres://prod",
        8,
    )


def test_missing_env_var_fails_the_run_with_a_clear_message(monkeypatch):
    monkeypatch.delenv("WH_DSN", raising=False)

    @asset
    def a(warehouse: Warehouse):
        return 1

    result = materialize([a], resources={"warehouse": Warehouse(dsn=EnvVar("WH_DSN"))})
    assert not result.success
    assert "Warehouse.dsn: environment variable WH_DSN is not set" in result.failure_message


def test_missing_resources_are_rejected_before_anything_runs_naming_who_needs_them():
    @asset
    def a(warehouse: Warehouse):
        return 1

    @asset(required_resource_keys={"slack"})
    def b(a):
        return 1

    seen = []
    with pytest.raises(ResourceError) as info:
        materialize([a, b], on_event=seen.append)
    assert str(info.value) == (
        "resources not provided: 'slack' (needed by b); 'warehouse' (needed by a); "
        "provided: io_manager"
    )
    assert seen == []


def test_resource_named_parameter_without_annotation_is_injected():
    @asset(required_resource_keys={"settings"})
    def a(context: AssetExecutionContext, settings):
        return settings["x"], context.resources.settings["x"]

    defs = Definitions(assets=[a], resources={"settings": {"x": 1}})
    assert materialize(defs).output_for_node("a") == (1, 1)


def test_raise_on_error_raises_for_callers_that_want_exceptions():
    @asset
    def a():
        raise RuntimeError("nope")

    with pytest.raises(AssayError, match="failed"):
        materialize([a], raise_on_error=True)


def test_instance_receives_every_event():
    class Recorder:
        def __init__(self):
            self.events = []

        def store_event(self, event):
            self.events.append(event)

    recorder = Recorder()
    result = materialize([numbers], instance=recorder)
    assert recorder.events == result.events


def test_wrongly_typed_resource_config_fails_before_user_code_runs():
    @asset
    def a(warehouse: Warehouse):
        raise AssertionError("must not run")

    result = materialize([a], resources={"warehouse": Warehouse(dsn="x", pool_size="big")})
    assert not result.success
    assert "Warehouse.pool_size must be int, got str 'big'" in result.failure_message


def test_output_for_node_explains_typos_and_assets_that_stored_nothing():
    @asset
    def exported():
        return MaterializeResult(metadata={"rows": 3})

    result = materialize([numbers, exported])
    with pytest.raises(AssayError, match="no asset 'number' in this run's definitions; did you"):
        result.output_for_node("number")
    with pytest.raises(AssayError, match="'exported' stored no value in this run: it returned a"):
        result.output_for_node("exported")
    assert result.asset_materializations_for_node("exported")[0].payload["metadata"] == {"rows": 3}
