"""The local instance: an idempotent event log with status projections, and a status view."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from assay import (
    AssetKey,
    BackfillPolicy,
    Definitions,
    Event,
    EventType,
    LocalInstance,
    PartitionKeyRange,
    asset,
    materialize,
)
from assay.automation import AutomationCondition, StatusView, evaluate_automation_conditions
from assay.automation.subsets import ALL_UNPARTITIONED, EMPTY_UNPARTITIONED
from assay.instance import InstanceError
from assay.partitions import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    MonthlyPartitionsDefinition,
    PartitionsError,
)

DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
RAW = AssetKey("raw")


@asset(code_version="7")
def raw():
    return [1, 2, 3]


@asset
def total(raw):
    return sum(raw)


@asset
def broken(raw):
    raise RuntimeError("boom")


def test_materialize_records_every_event_of_the_run(tmp_path):
    with LocalInstance(tmp_path / "instance.db") as instance:
        result = materialize([raw, total], instance=instance)
        assert [e.id for e in instance.get_events()] == [e.id for e in result.events]
        assert instance.run_status(result.run_id) == "succeeded"
    with LocalInstance(tmp_path / "instance.db") as reopened:  # it is on disk
        assert len(reopened.get_events(run_id=result.run_id)) == len(result.events)


def test_recording_an_event_twice_changes_nothing():
    instance = LocalInstance.ephemeral()
    result = materialize([raw], instance=instance)
    before = instance.latest_storage_id()
    assert instance.store_events(result.events) == 0
    assert not instance.store_event(result.events[0])
    assert instance.latest_storage_id() == before


def test_status_projection_holds_latest_materialization_with_run_and_code_version():
    instance = LocalInstance.ephemeral()
    first = materialize([raw], instance=instance)
    second = materialize([raw], instance=instance)
    record = instance.latest_materialization(RAW)
    assert record is not None
    assert (record.run_id, record.code_version) == (second.run_id, "7")
    assert record.run_id != first.run_id
    assert instance.materialized_subset(RAW, None) == ALL_UNPARTITIONED
    assert instance.materialized_subset(AssetKey("total"), None) == EMPTY_UNPARTITIONED


def test_failed_step_marks_the_asset_failed_until_it_materializes():
    instance = LocalInstance.ephemeral()
    materialize([raw, broken], instance=instance)
    assert instance.failed_subset(AssetKey("broken"), None) == ALL_UNPARTITIONED
    assert instance.in_progress_subset(AssetKey("broken"), None) == EMPTY_UNPARTITIONED


def test_in_progress_lasts_from_step_start_until_the_run_ends():
    instance = LocalInstance.ephemeral()
    instance.store_events(
        [
            Event(EventType.RUN_STARTED, "r1"),
            Event(EventType.STEP_STARTED, "r1", RAW, "raw", partition="2024-01-02"),
        ]
    )
    assert list(instance.in_progress_subset(RAW, DAILY)) == ["2024-01-02"]
    assert instance.in_progress_run_ids() == ["r1"]
    assert instance.changed_asset_keys(after_storage_id=0) == {RAW}
    mark = instance.latest_storage_id()
    instance.store_event(Event(EventType.RUN_FAILED, "r1", payload={"message": "killed"}))
    assert not instance.in_progress_subset(RAW, DAILY)
    assert instance.changed_asset_keys(after_storage_id=mark) == {RAW}


AC = AutomationCondition
WEEK = PartitionKeyRange("2024-01-01", "2024-01-05")
DAYS = ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"]
LATER = datetime(2024, 1, 10, tzinfo=UTC)


def _single_run_location(instance: LocalInstance, *, fail: bool = False) -> tuple:
    """`events` runs every day of a range in one step; while it runs it asks the instance
    what is in progress and what automation would request."""
    seen: dict = {}

    @asset(
        partitions_def=DAILY,
        backfill_policy=BackfillPolicy.single_run(),
        automation_condition=AC.in_progress() | AC.execution_failed(),
    )
    def events(context):
        seen["in_progress"] = list(instance.in_progress_subset(AssetKey("events"), DAILY))
        tick = evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=LATER)
        seen["requested"] = {k.to_user_string(): list(v) for k, v in tick.requested.items()}
        if fail and len(context.partition_keys) > 1:
            raise RuntimeError("the source was down")
        return {day: day for day in context.partition_keys}

    @asset(partitions_def=DAILY, automation_condition=AC.any_deps_in_progress())
    def sessions(events):
        return events

    defs = Definitions(assets=[events, sessions])
    return defs, seen


def test_a_single_run_backfill_is_in_progress_for_every_partition_it_covers():
    instance = LocalInstance.ephemeral()
    defs, seen = _single_run_location(instance)
    result = materialize(
        defs, selection="events", partition_key_range=WEEK, current_time=LATER, instance=instance
    )
    assert result.success, result.failure_message
    assert seen["in_progress"] == DAYS
    # in_progress() and any_deps_in_progress() see the whole range, so automation
    # would not launch those partitions again while the backfill runs.
    assert seen["requested"] == {"events": DAYS, "sessions": DAYS}
    assert not instance.in_progress_subset(AssetKey("events"), DAILY)
    assert list(instance.materialized_subset(AssetKey("events"), DAILY)) == DAYS


def test_a_failed_single_run_backfill_fails_every_partition_until_each_materializes_again():
    instance = LocalInstance.ephemeral()
    defs, _ = _single_run_location(instance, fail=True)
    key = AssetKey("events")
    failed = materialize(
        defs, selection="events", partition_key_range=WEEK, current_time=LATER, instance=instance
    )
    assert not failed.success
    assert list(instance.failed_subset(key, DAILY)) == DAYS
    assert not instance.in_progress_subset(key, DAILY)
    tick = evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=LATER)
    assert list(tick.requested[key]) == DAYS  # execution_failed() sees every day
    retried = materialize(
        defs, selection="events", partition_key="2024-01-03", current_time=LATER, instance=instance
    )
    assert retried.success, retried.failure_message
    assert list(instance.failed_subset(key, DAILY)) == [d for d in DAYS if d != "2024-01-03"]


def test_an_interrupted_single_run_backfill_stops_counting_as_in_progress():
    instance = LocalInstance.ephemeral()
    subset = DAILY.subset_with_key_range(WEEK).to_serializable()
    payload = {"partition_key_range": ["2024-01-01", "2024-01-05"], "partition_subset": subset}
    instance.store_events(
        [
            Event(EventType.RUN_STARTED, "r1"),
            Event(EventType.STEP_STARTED, "r1", RAW, "raw", payload),
        ]
    )
    assert list(instance.in_progress_subset(RAW, DAILY)) == DAYS
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")
    assert not instance.in_progress_subset(RAW, monthly)  # re-partitioned since: not these
    mark = instance.latest_storage_id()
    instance.store_event(Event(EventType.RUN_FAILED, "r1", payload={"reason": "interrupted"}))
    assert not instance.in_progress_subset(RAW, DAILY)
    assert instance.changed_asset_keys(after_storage_id=mark) == {RAW}


def test_partitioned_materializations_project_per_partition():
    instance = LocalInstance.ephemeral()
    for day in ("2024-01-01", "2024-01-03"):
        instance.store_event(
            Event(EventType.ASSET_MATERIALIZATION, "r", RAW, "raw", partition=day, timestamp=10.0)
        )
    mark = instance.latest_storage_id()
    instance.store_event(
        Event(
            EventType.ASSET_MATERIALIZATION, "r", RAW, "raw", partition="2024-01-05", timestamp=20.0
        )
    )
    assert list(instance.materialized_subset(RAW, DAILY)) == [
        "2024-01-01",
        "2024-01-03",
        "2024-01-05",
    ]
    assert list(instance.updated_subset(RAW, DAILY, after_storage_id=mark)) == ["2024-01-05"]
    assert list(instance.updated_since_time(RAW, DAILY, timestamp=15.0)) == ["2024-01-05"]


def test_instance_is_a_status_view_automation_can_tick_against():
    @asset(automation_condition=AutomationCondition.eager())
    def source(): ...

    @asset(automation_condition=AutomationCondition.eager())
    def report(source): ...

    defs = Definitions(assets=[source, report])
    instance = LocalInstance.ephemeral()
    assert isinstance(instance, StatusView)
    now = datetime(2024, 1, 1, tzinfo=UTC)
    first = evaluate_automation_conditions(defs=defs, instance=instance, evaluation_time=now)
    assert [k.to_user_string() for k in first.requested] == ["source", "report"]
    materialize(defs, instance=instance)
    instance.set_automation_cursor(first.cursor.to_json())
    second = evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=now, cursor=instance.get_automation_cursor()
    )
    assert second.requested == {}


def test_instance_keeps_dynamic_partition_keys_in_order_across_reopening(tmp_path):
    with LocalInstance(tmp_path / "instance.db") as instance:
        assert instance.add_dynamic_partitions("customers", ["globex", "acme"]) == [
            "globex",
            "acme",
        ]
        assert instance.add_dynamic_partitions("customers", ["acme", "initech"]) == ["initech"]
        instance.delete_dynamic_partition("customers", "globex")
    with LocalInstance(tmp_path / "instance.db") as reopened:
        assert reopened.get_dynamic_partitions("customers") == ["acme", "initech"]
        assert reopened.has_dynamic_partition("customers", "acme")
        assert not reopened.has_dynamic_partition("customers", "globex")
        assert reopened.get_dynamic_partitions("suppliers") == []
        assert isinstance(reopened, DynamicPartitionsStore)


def test_a_bad_dynamic_partition_key_adds_nothing_and_deleting_a_missing_one_changes_nothing():
    instance = LocalInstance.ephemeral()
    with pytest.raises(PartitionsError, match=re.escape("'a|b'")):
        instance.add_dynamic_partitions("customers", ["acme", "a|b"])
    assert instance.get_dynamic_partitions("customers") == []
    instance.add_dynamic_partitions("customers", ["globex"])
    # The rule of DynamicPartitionsChange.delete_keys on the control plane: a no-op.
    instance.delete_dynamic_partition("customers", "acme")
    instance.delete_dynamic_partition("suppliers", "acme")
    assert instance.get_dynamic_partitions("customers") == ["globex"]
    assert instance.get_dynamic_partitions("suppliers") == []


def test_writes_in_an_instance_transaction_are_seen_together_or_not_at_all(tmp_path):
    with (
        LocalInstance(tmp_path / "instance.db") as instance,
        LocalInstance(tmp_path / "instance.db") as reader,
    ):
        instance.add_dynamic_partitions("customers", ["acme"])
        with pytest.raises(RuntimeError, match="interrupted"), instance.transaction():
            instance.add_dynamic_partitions("customers", ["globex"])
            instance.delete_dynamic_partition("customers", "acme")
            raise RuntimeError("interrupted")
        assert instance.get_dynamic_partitions("customers") == ["acme"]

        with instance.transaction():
            instance.add_dynamic_partitions("customers", ["globex"])
            instance.delete_dynamic_partition("customers", "acme")
            assert reader.get_dynamic_partitions("customers") == ["acme"]  # not yet
        assert reader.get_dynamic_partitions("customers") == ["globex"]


def test_dynamic_partitions_in_the_instance_are_materialized_and_automated():
    customers = DynamicPartitionsDefinition(name="customers")

    @asset(partitions_def=customers, automation_condition=AutomationCondition.on_missing())
    def export(context):
        return context.partition_key

    defs = Definitions(assets=[export])
    instance = LocalInstance.ephemeral()
    instance.add_dynamic_partitions("customers", ["acme", "globex"])
    materialize(
        [export], partition_key="acme", instance=instance, dynamic_partitions_store=instance
    )
    result = evaluate_automation_conditions(
        defs=defs, instance=instance, evaluation_time=datetime(2024, 1, 1, tzinfo=UTC)
    )
    assert list(result.requested[AssetKey("export")]) == ["globex"]


def test_an_instance_that_cannot_be_opened_is_a_clear_error(tmp_path):
    not_a_database = tmp_path / "instance.db"
    not_a_database.write_text("these are notes, not a database")
    with pytest.raises(InstanceError, match="cannot open the instance at"):
        LocalInstance(not_a_database)
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(InstanceError, match="cannot open the instance at"):
        LocalInstance(blocked / "instance.db")
