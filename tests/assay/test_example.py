"""The example project in examples/ works end to end in-process."""

import pytest

from assay import AssetKey, LocalInstance, PartitionKeyRange, materialize
from assay.errors import PartitionSelectionError
from examples.analytics.definitions import defs

WEEK = [f"2026-11-0{day}" for day in range(1, 8)]


def test_user_events_has_one_partition_per_day_of_the_first_week_of_november():
    partitions = defs.get_assets_def("user_events").partitions_def
    assert list(partitions.get_partition_keys()) == WEEK
    assert defs.get_assets_def("daily_metrics").partitions_def is None


def test_the_whole_week_materializes_in_one_run_and_its_check_passes():
    result = materialize(defs, partition_key_range=PartitionKeyRange(WEEK[0], WEEK[-1]))
    assert result.success, result.failure_message
    events = result.get_asset_materialization_events()
    assert [e.partition for e in events if e.asset_key == AssetKey("user_events")] == WEEK
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "no_negative_conversions" and evaluation.passed
    metrics = result.output_for_node("daily_metrics")
    assert [row["day"] for row in metrics] == WEEK  # one row per partition of user_events
    assert all(0 <= row["conversions"] <= row["active_users"] <= 40 for row in metrics)
    (model,) = result.asset_materializations_for_node("churn_model")
    assert 0 <= model.payload["metadata"]["churn_score"] <= 1


def test_one_day_runs_alone_and_the_instance_shows_only_that_partition_materialized():
    partitions = defs.get_assets_def("user_events").partitions_def
    with LocalInstance.ephemeral() as instance:
        result = materialize(
            defs, selection="user_events", partition_key="2026-11-03", instance=instance
        )
        assert result.success, result.failure_message
        [event] = result.get_asset_materialization_events()
        assert event.partition == "2026-11-03"
        rows = result.output_for_node("user_events")
        assert rows and {row["day"] for row in rows} == {"2026-11-03"}
        materialized = instance.materialized_subset(AssetKey("user_events"), partitions)
        assert list(materialized) == ["2026-11-03"]


def test_a_run_of_the_whole_example_without_a_partition_is_refused():
    with pytest.raises(PartitionSelectionError, match="asset 'user_events' is partitioned"):
        materialize(defs)
