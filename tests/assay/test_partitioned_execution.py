"""Partitioned assets run per partition: context, IO per partition, mappings, validation."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from assay import (
    AssetCheckResult,
    AssetIn,
    AssetSpec,
    BackfillPolicy,
    DailyPartitionsDefinition,
    DefinitionError,
    Definitions,
    EventType,
    FilesystemIOManager,
    InMemoryIOManager,
    MonthlyPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    asset,
    asset_check,
    build_asset_context,
    materialize,
    multi_asset,
)
from assay.errors import PartitionSelectionError
from assay.snapshot import build_snapshot

NOW = datetime(2024, 3, 1, tzinfo=UTC)
daily = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=daily)
def events(context):
    return f"events of {context.partition_key}"


@asset(partitions_def=daily)
def cleaned(context, events):
    window = context.partition_time_window
    return {"key": context.partition_key, "events": events, "hours": window.duration.days * 24}


def test_partition_key_reaches_context_io_and_events():
    io = InMemoryIOManager()
    result = materialize(
        [events, cleaned],
        partition_key="2024-01-15",
        current_time=NOW,
        resources={"io_manager": io},
    )
    assert result.success
    assert result.output_for_node("cleaned") == {
        "key": "2024-01-15",
        "events": "events of 2024-01-15",
        "hours": 24,
    }
    materializations = result.get_asset_materialization_events()
    assert {e.partition for e in materializations} == {"2024-01-15"}
    started = [e for e in result.events if e.type is EventType.STEP_STARTED]
    assert {e.partition for e in started} == {"2024-01-15"}
    assert result.events[0].payload["partition_key"] == "2024-01-15"
    assert set(io.values) == {(events.key, "2024-01-15"), (cleaned.key, "2024-01-15")}


def test_filesystem_io_manager_stores_one_file_per_partition(tmp_path):
    io = FilesystemIOManager(base_dir=str(tmp_path))
    for day in ("2024-01-01", "2024-01-02"):
        assert materialize(
            [events], partition_key=day, current_time=NOW, resources={"io_manager": io}
        ).success
    assert sorted(p.name for p in (tmp_path / "events").iterdir()) == ["2024-01-01", "2024-01-02"]
    later = materialize(
        [events, cleaned],
        selection="cleaned",
        partition_key="2024-01-02",
        current_time=NOW,
        resources={"io_manager": io},
    )
    assert later.output_for_node("cleaned")["events"] == "events of 2024-01-02"


def test_unknown_partition_key_is_a_clear_error():
    with pytest.raises(PartitionSelectionError, match=r"'2024-13-01' does not exist.*2024-01-01"):
        materialize([events], partition_key="2024-13-01", current_time=NOW)


def test_future_partition_does_not_exist_yet():
    with pytest.raises(PartitionSelectionError, match="does not exist"):
        materialize([events], partition_key="2024-03-05", current_time=NOW)


def test_partitioned_asset_without_partition_key_is_rejected():
    with pytest.raises(PartitionSelectionError, match="pass partition_key"):
        materialize([events], current_time=NOW)


def test_partition_key_for_unpartitioned_assets_is_rejected():
    @asset
    def plain():
        return 1

    with pytest.raises(PartitionSelectionError, match="none of the selected assets"):
        materialize([plain], partition_key="2024-01-01")


def test_unpartitioned_downstream_receives_a_dict_of_every_upstream_partition():
    three_days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")

    @asset(partitions_def=three_days)
    def visits(context):
        return int(context.partition_key[-1])

    @asset
    def total(visits):
        return visits

    io = InMemoryIOManager()
    for day in ("2024-01-01", "2024-01-02", "2024-01-03"):
        materialize([visits], partition_key=day, current_time=NOW, resources={"io_manager": io})
    result = materialize(
        [visits, total], selection="total", current_time=NOW, resources={"io_manager": io}
    )
    assert result.output_for_node("total") == {"2024-01-01": 1, "2024-01-02": 2, "2024-01-03": 3}


def test_monthly_downstream_of_daily_reads_its_days_and_runs_its_month():
    jan = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-04")
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=jan)
    def day_count(context):
        return 1

    @asset(partitions_def=monthly)
    def month_count(context, day_count):
        return (context.partition_key, sum(day_count.values()))

    io = InMemoryIOManager()
    for day in ("2024-01-01", "2024-01-02"):
        materialize([day_count], partition_key=day, current_time=NOW, resources={"io_manager": io})
    # The run's key is a day; the monthly asset runs the month that day maps to.
    result = materialize(
        [day_count, month_count],
        partition_key="2024-01-03",
        current_time=NOW,
        resources={"io_manager": io},
    )
    assert result.success, result.failure_message
    assert result.output_for_node("month_count") == ("2024-01-01", 3)


def test_explicit_time_window_mapping_reads_the_previous_day():
    @asset(partitions_def=daily)
    def balance(context):
        return context.partition_key

    @asset(
        partitions_def=daily,
        ins={"balance": AssetIn(partition_mapping=TimeWindowPartitionMapping(-1, -1))},
    )
    def opening_balance(balance):
        return balance

    io = InMemoryIOManager()
    materialize(
        [balance], partition_key="2024-01-14", current_time=NOW, resources={"io_manager": io}
    )
    result = materialize(
        [balance, opening_balance],
        selection="opening_balance",
        partition_key="2024-01-15",
        current_time=NOW,
        resources={"io_manager": io},
    )
    assert result.output_for_node("opening_balance") == "2024-01-14"


def test_a_range_run_gives_the_range_and_stores_a_value_per_partition():
    @asset(partitions_def=daily, backfill_policy=BackfillPolicy.single_run())
    def bulk(context):
        assert context.partition_key_range == PartitionKeyRange("2024-01-01", "2024-01-03")
        assert context.partition_time_window.start == datetime(2024, 1, 1, tzinfo=UTC)
        return {key: key.upper() for key in context.partition_keys}

    io = InMemoryIOManager()
    result = materialize(
        [bulk],
        partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-03"),
        current_time=NOW,
        resources={"io_manager": io},
    )
    assert result.success
    assert [e.partition for e in result.get_asset_materialization_events()] == [
        "2024-01-01",
        "2024-01-02",
        "2024-01-03",
    ]
    assert io.values[(bulk.key, "2024-01-02")] == "2024-01-02"


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_step_over_several_partitions_names_them_all_in_its_events(executor, tmp_path):
    from tests.assay.partitioned_project import date_by_region, regional_sales

    result = materialize(
        [regional_sales],
        partition_key_range=PartitionKeyRange("2024-01-01|eu", "2024-01-02|us"),
        current_time=NOW,
        executor=executor,
        resources={"io_manager": FilesystemIOManager(base_dir=str(tmp_path))},
    )
    assert result.success, result.failure_message
    steps = [e for e in result.events if e.type.value.startswith("step_")]
    assert [e.type for e in steps] == [EventType.STEP_STARTED, EventType.STEP_SUCCEEDED]
    both_days = {"type": "time_window", "ranges": [["2024-01-01", "2024-01-02"]]}
    for event in steps:
        assert event.partition is None
        assert event.payload["partition_key_range"] == ["2024-01-01|eu", "2024-01-02|us"]
        assert event.payload["partition_subset"] == {
            "type": "multi",
            "primary": "region",
            "subsets": {"eu": both_days, "us": both_days},
        }
    subset = date_by_region.subset_from_serializable(steps[0].payload["partition_subset"])
    assert list(subset) == ["2024-01-01|eu", "2024-01-01|us", "2024-01-02|eu", "2024-01-02|us"]


def test_a_step_over_one_partition_names_it_as_the_event_partition():
    result = materialize([events], partition_key="2024-01-15", current_time=NOW)
    started = next(e for e in result.events if e.type is EventType.STEP_STARTED)
    assert started.partition == "2024-01-15"
    assert "partition_subset" not in started.payload


def test_a_range_run_that_returns_one_value_fails_with_an_explanation():
    result = materialize(
        [events],
        partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-02"),
        current_time=NOW,
    )
    assert not result.success
    assert "context.partition_key_range" in result.get_step_failure_events()[0].message


def test_checks_and_multi_assets_run_for_the_partition():
    regions = StaticPartitionsDefinition(["eu", "us"])

    @multi_asset(specs=[AssetSpec("orders"), AssetSpec("refunds")], partitions_def=regions)
    def shop(context):
        return f"orders {context.partition_key}", f"refunds {context.partition_key}"

    @asset_check(asset="orders")
    def has_orders(context, orders):
        return AssetCheckResult(passed=orders == "orders us")

    result = materialize([shop, has_orders], partition_key="us")
    assert result.success
    assert {e.partition for e in result.get_asset_materialization_events()} == {"us"}
    (check,) = result.get_asset_check_evaluations()
    assert check.passed


def test_multi_partition_keys_run_like_any_other_key():
    by_region = MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition("2024-01-01"),
            "region": StaticPartitionsDefinition(["eu"]),
        }
    )

    @asset(partitions_def=by_region)
    def sales(context):
        return context.partition_key

    key = MultiPartitionKey({"date": "2024-01-02", "region": "eu"})
    result = materialize([sales], partition_key=key, current_time=NOW)
    assert result.success
    assert result.get_asset_materialization_events()[0].partition == "2024-01-02|eu"


def test_a_date_by_region_asset_gets_the_time_window_of_its_date():
    by_region = MultiPartitionsDefinition(
        {
            "date": DailyPartitionsDefinition("2024-01-01", timezone="Europe/Berlin"),
            "region": StaticPartitionsDefinition(["eu", "us"]),
        }
    )
    windows = []

    @asset(partitions_def=by_region)
    def sales(context):
        windows.append(context.partition_time_window)
        return {k: 1 for k in context.partition_keys}

    one = materialize([sales], partition_key="2024-01-02|us", current_time=NOW)
    assert one.success, one.failure_message
    several = materialize(
        [sales],
        partition_key_range=PartitionKeyRange("2024-01-02|us", "2024-01-04|eu"),
        current_time=NOW,
    )
    assert several.success, several.failure_message
    berlin = ZoneInfo("Europe/Berlin")
    assert (windows[0].start, windows[0].end) == (
        datetime(2024, 1, 2, tzinfo=berlin),
        datetime(2024, 1, 3, tzinfo=berlin),
    )
    assert (windows[1].start, windows[1].end) == (
        datetime(2024, 1, 2, tzinfo=berlin),
        datetime(2024, 1, 5, tzinfo=berlin),
    )
    context = build_asset_context(partition_key="2024-01-02|eu", partitions_def=by_region)
    assert context.partition_time_window == windows[0]


def test_partition_time_window_says_why_when_no_dimension_is_time():
    by_team = MultiPartitionsDefinition(
        {
            "region": StaticPartitionsDefinition(["eu"]),
            "team": StaticPartitionsDefinition(["ads"]),
        }
    )

    @asset(partitions_def=by_team)
    def spend(context):
        return context.partition_time_window

    result = materialize([spend], partition_key="eu|ads", current_time=NOW)
    assert not result.success
    assert "not partitioned by time" in result.get_step_failure_events()[0].message


def test_multiprocess_runs_a_partition_and_reads_it_back(tmp_path):
    from tests.assay.partitioned_project import daily_total, daily_values

    result = materialize(
        [daily_values, daily_total],
        partition_key="2024-01-02",
        executor="multiprocess",
        current_time=NOW,
        resources={"io_manager": FilesystemIOManager(base_dir=str(tmp_path))},
    )
    assert result.success, result.failure_message
    assert result.output_for_node("daily_total") == 6
    assert (tmp_path / "daily_values" / "2024-01-02").exists()


def test_definitions_reject_a_time_window_mapping_between_static_partitions():
    regions = StaticPartitionsDefinition(["eu", "us"])

    @asset(partitions_def=regions)
    def by_region():
        return 1

    @asset(
        partitions_def=regions,
        ins={"by_region": AssetIn(partition_mapping=TimeWindowPartitionMapping())},
    )
    def copy(by_region):
        return by_region

    with pytest.raises(DefinitionError, match="needs time-window"):
        Definitions(assets=[by_region, copy])


def test_definitions_reject_a_partitions_def_that_is_not_one():
    @asset(partitions_def="daily")
    def wrong():
        return 1

    with pytest.raises(DefinitionError, match="partitions_def must be a PartitionsDefinition"):
        Definitions(assets=[wrong])


def test_snapshot_describes_partitions_mappings_and_policies():
    @asset(partitions_def=daily, backfill_policy=BackfillPolicy.multi_run(7))
    def source():
        return 1

    @asset
    def summary(source):
        return source

    snapshot = build_snapshot(Definitions(assets=[source, summary]))
    by_key = {a.key: a for a in snapshot.assets}
    assert by_key["source"].partitions["type"] == "time_window"
    assert by_key["source"].backfill_policy == {"max_partitions_per_run": 7}
    assert by_key["summary"].partition_mappings == {"source": {"type": "AllPartitionMapping"}}


def test_build_asset_context_takes_a_partition_key():
    context = build_asset_context(partition_key="2024-01-15")
    assert context.partition_key == "2024-01-15"
    assert context.has_partition_key
    assert context.partition_key_range == PartitionKeyRange("2024-01-15", "2024-01-15")


def test_build_asset_context_gives_a_range_and_its_time_window():
    context = build_asset_context(
        partition_key_range=PartitionKeyRange("2024-01-01", "2024-01-03"), partitions_def=daily
    )
    assert context.partition_keys == ("2024-01-01", "2024-01-02", "2024-01-03")
    assert context.partition_time_window.end == datetime(2024, 1, 4, tzinfo=UTC)
    assert not context.has_partition_key and context.has_partition_key_range


def test_a_monthly_asset_in_a_daily_run_runs_the_month_the_day_falls_in():
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=monthly)
    def budget(context):
        return context.partition_key

    result = materialize([events, budget], partition_key="2024-02-15", current_time=NOW)
    assert result.output_for_node("budget") == "2024-02-01"
    assert result.output_for_node("events") == "events of 2024-02-15"
