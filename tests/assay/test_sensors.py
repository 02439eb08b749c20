"""Sensors: pure evaluation with cursors, skip reasons, run-key dedupe, dynamic partitions."""

import re
import sqlite3
from datetime import UTC, datetime

import pytest

from assay import (
    AddDynamicPartitionsRequest,
    DefaultSensorStatus,
    DefinitionError,
    Definitions,
    DeleteDynamicPartitionsRequest,
    DynamicPartitionsDefinition,
    LocalInstance,
    RunRequest,
    SensorDefinition,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    apply_dynamic_partitions_requests,
    asset,
    dedupe_run_requests,
    evaluate_sensor,
    materialize,
    sensor,
)
from assay.definitions.sensors import SensorEvaluationError
from assay.errors import InvalidSelection
from assay.partitions import InMemoryDynamicPartitionsStore, PartitionsError
from assay.snapshot import build_snapshot

NOW = datetime(2024, 5, 1, 12, tzinfo=UTC)
customers = DynamicPartitionsDefinition(name="customers")
FILES = ["acme.csv", "globex.csv", "initech.csv"]


@asset(partitions_def=customers)
def customer_report(context):
    return f"report for {context.partition_key}"


@sensor(target=[customer_report], minimum_interval_seconds=60)
def new_customer_files(context: SensorEvaluationContext):
    """One run per new file; the cursor is the last file seen."""
    fresh = [f for f in FILES if context.cursor is None or f > context.cursor]
    if not fresh:
        yield SkipReason("no new files")
        return
    names = [f.removesuffix(".csv") for f in fresh]
    context.add_dynamic_partitions("customers", names)
    for name in names:
        yield RunRequest(run_key=name, partition_key=name)
    context.update_cursor(fresh[-1])


def test_sensor_requests_runs_adds_partitions_and_moves_its_cursor():
    result = evaluate_sensor(new_customer_files, None, evaluation_time=NOW)
    assert [r.partition_key for r in result.run_requests] == ["acme", "globex", "initech"]
    assert result.cursor == "initech.csv"
    assert result.dynamic_partitions_requests == (
        AddDynamicPartitionsRequest("customers", ("acme", "globex", "initech")),
    )
    # The daemon applies the dynamic partitions, then launches the runs.
    store = InMemoryDynamicPartitionsStore()
    for request in result.dynamic_partitions_requests:
        store.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
    run = materialize([customer_report], partition_key="globex", dynamic_partitions_store=store)
    assert run.output_for_node("customer_report") == "report for globex"


def test_next_tick_from_the_cursor_skips_with_the_reason():
    result = evaluate_sensor(new_customer_files, "initech.csv", evaluation_time=NOW)
    assert result.run_requests == () and result.skip_reason == "no new files"
    assert result.cursor == "initech.csv"


def test_the_same_run_key_never_launches_twice():
    seen = {"acme"}
    result = evaluate_sensor(new_customer_files, None, evaluation_time=NOW, seen_run_keys=seen)
    assert [r.run_key for r in result.run_requests] == ["globex", "initech"]
    assert result.duplicate_run_keys == ("acme",)
    again = evaluate_sensor(
        new_customer_files, None, evaluation_time=NOW, seen_run_keys={"acme", "globex", "initech"}
    )
    assert again.run_requests == ()
    assert "every run key had launched before" in again.skip_reason


def test_dedupe_drops_repeats_within_one_batch_and_keeps_keyless_requests():
    requests = [RunRequest("a"), RunRequest("a"), RunRequest(None), RunRequest("b")]
    fresh, duplicates = dedupe_run_requests(requests, seen_run_keys={"b"})
    assert [r.run_key for r in fresh] == ["a", None]
    assert duplicates == ["a", "b"]


def test_a_sensor_may_return_a_sensor_result():
    @sensor(target="customer_report")
    def direct(context):
        return SensorResult(run_requests=(RunRequest("x"),), cursor="7")

    result = evaluate_sensor(direct, "6", evaluation_time=NOW)
    assert result.cursor == "7" and [r.run_key for r in result.run_requests] == ["x"]


def test_a_sensor_that_raises_or_returns_junk_names_itself():
    @sensor(target="customer_report")
    def boom(context):
        raise RuntimeError("API down")

    @sensor(target="customer_report")
    def junk(context):
        return 42

    with pytest.raises(SensorEvaluationError, match="sensor 'boom' raised RuntimeError: API down"):
        evaluate_sensor(boom, evaluation_time=NOW)
    with pytest.raises(SensorEvaluationError, match="sensor 'junk' produced int"):
        evaluate_sensor(junk, evaluation_time=NOW)


def test_minimum_interval_decides_when_a_sensor_is_due():
    assert new_customer_files.is_due(last_evaluation_time=None, now=NOW)
    assert not new_customer_files.is_due(
        last_evaluation_time=datetime(2024, 5, 1, 11, 59, 30, tzinfo=UTC), now=NOW
    )
    assert new_customer_files.is_due(
        last_evaluation_time=datetime(2024, 5, 1, 11, 59, tzinfo=UTC), now=NOW
    )


def test_definitions_reject_a_sensor_whose_target_does_not_exist():
    @sensor(target="customer_reprot")
    def typo(context):
        return None

    with pytest.raises(InvalidSelection, match="sensor 'typo'"):
        Definitions(assets=[customer_report], sensors=[typo])
    assert Definitions(assets=[customer_report], sensors=[new_customer_files]).sensors


def test_partitions_a_sensor_adds_are_applied_to_the_instance_before_its_runs_launch():
    instance = LocalInstance.ephemeral()
    instance.add_dynamic_partitions("customers", ["acme"])
    result = evaluate_sensor(new_customer_files, None, evaluation_time=NOW)
    apply_dynamic_partitions_requests(instance, result.dynamic_partitions_requests)
    assert instance.get_dynamic_partitions("customers") == ["acme", "globex", "initech"]
    for request in result.run_requests:
        run = materialize(
            [customer_report],
            partition_key=request.partition_key,
            instance=instance,
            dynamic_partitions_store=instance,
        )
        assert run.success
    assert set(instance.materialized_subset(customer_report.key, customers)) == {
        "acme",
        "globex",
        "initech",
    }

    @sensor(target=[customer_report])
    def churned(context):
        context.delete_dynamic_partitions("customers", ["globex"])
        return SkipReason("nothing to run")

    apply_dynamic_partitions_requests(
        instance, evaluate_sensor(churned, evaluation_time=NOW).dynamic_partitions_requests
    )
    assert instance.get_dynamic_partitions("customers") == ["acme", "initech"]


@pytest.fixture(params=["local instance", "in memory"])
def dynamic_store(request):
    if request.param == "in memory":
        return InMemoryDynamicPartitionsStore({"customers": ["acme"]})
    instance = LocalInstance.ephemeral()
    instance.add_dynamic_partitions("customers", ["acme"])
    return instance


def test_a_ticks_dynamic_partition_requests_apply_all_or_nothing(dynamic_store):
    @sensor(target=[customer_report])
    def reshuffle(context):
        context.add_dynamic_partitions("customers", ["globex"])
        context.delete_dynamic_partitions("customers", ["acme"])
        context.add_dynamic_partitions("customers", ["initech", "a|b"])

    requests = evaluate_sensor(reshuffle, evaluation_time=NOW).dynamic_partitions_requests
    with pytest.raises(PartitionsError, match=re.escape("'a|b'")):
        apply_dynamic_partitions_requests(dynamic_store, requests)
    assert dynamic_store.get_dynamic_partitions("customers") == ["acme"]


def test_a_ticks_dynamic_partition_requests_commit_in_one_instance_transaction(tmp_path):
    with LocalInstance(tmp_path / "instance.db") as instance:
        instance.add_dynamic_partitions("customers", ["acme"])
        requests = [
            AddDynamicPartitionsRequest("customers", ("globex",)),
            DeleteDynamicPartitionsRequest("customers", ("acme",)),
            # Valid keys, but a name the database cannot store: the write fails midway.
            AddDynamicPartitionsRequest(["customers"], ("initech",)),  # type: ignore[arg-type]
        ]
        with pytest.raises(sqlite3.Error):
            apply_dynamic_partitions_requests(instance, requests)
        assert instance.get_dynamic_partitions("customers") == ["acme"]


def test_a_tick_deleting_a_missing_dynamic_partition_still_applies_its_other_requests(
    dynamic_store,
):
    @sensor(target=[customer_report])
    def churned(context):
        context.add_dynamic_partitions("customers", ["globex"])
        context.delete_dynamic_partitions("customers", ["initech", "acme"])  # initech: never added

    requests = evaluate_sensor(churned, evaluation_time=NOW).dynamic_partitions_requests
    apply_dynamic_partitions_requests(dynamic_store, requests)
    apply_dynamic_partitions_requests(dynamic_store, requests)  # the same tick again
    assert dynamic_store.get_dynamic_partitions("customers") == ["globex"]


def test_a_sensor_is_stopped_until_started_unless_its_code_says_running():
    @sensor(target=[customer_report], default_status=DefaultSensorStatus.RUNNING)
    def watching(context):
        return SkipReason("nothing yet")

    quiet = SensorDefinition(
        name="quiet", evaluation_fn=lambda: SkipReason("no"), target=[customer_report]
    )
    defs = Definitions(assets=[customer_report], sensors=[watching, quiet, new_customer_files])
    specs = {s["name"]: s["default_status"] for s in build_snapshot(defs).sensor_specs}
    assert specs == {"watching": "running", "quiet": "stopped", "new_customer_files": "stopped"}
    with pytest.raises(DefinitionError, match="sensor 'x': default_status must be 'running'"):
        SensorDefinition(
            name="x", evaluation_fn=lambda: None, target="customer_report", default_status="paused"
        )


def test_one_asset_a_spec_or_a_key_alone_is_a_target():
    from assay import AssetKey, AssetSpec, ScheduleDefinition

    @asset
    def orders() -> int:
        return 1

    @sensor(target=orders)
    def by_asset():
        return SkipReason("nothing")

    by_spec = ScheduleDefinition(
        name="by_spec", cron_schedule="0 0 * * *", target=AssetSpec("vendor_feed")
    )

    @sensor(target=AssetKey(["shop", "orders"]))
    def by_key():
        return SkipReason("nothing")

    assert by_asset.target == "orders"
    assert by_spec.target == "vendor_feed"
    assert by_key.target == "shop/orders"


def test_a_sensor_that_requests_an_unknown_partition_of_its_job_fails_the_tick():
    from assay import DailyPartitionsDefinition, define_asset_job

    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    job = define_asset_job("daily_job", "customer_report", partitions_def=daily)

    @sensor(job=job)
    def late_file(context):
        yield RunRequest(run_key="a", partition_key="2024-01-02")
        yield RunRequest(run_key="b", partition_key="yesterday")

    with pytest.raises(SensorEvaluationError, match=r"sensor 'late_file'.*'yesterday'"):
        evaluate_sensor(late_file, evaluation_time=NOW)
