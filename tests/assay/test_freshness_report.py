"""The freshness report judges every asset with a policy from a status source and a clock."""

from datetime import UTC, datetime

from assay import (
    AssetKey,
    AssetSpec,
    DailyPartitionsDefinition,
    Definitions,
    FreshnessPolicy,
    FreshnessStatus,
    asset,
    freshness_report,
    multi_asset,
)
from assay.automation import InMemoryStatusView
from assay.partitions import MultiPartitionsDefinition, StaticPartitionsDefinition

NOW = datetime(2024, 1, 10, 12, tzinfo=UTC)


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
def prices():
    return 1


@asset(freshness_policy=FreshnessPolicy(maximum_lag_minutes=24 * 60))
def inventory():
    return 1


@asset
def untracked():
    return 1


@asset(
    partitions_def=DailyPartitionsDefinition("2024-01-01"),
    freshness_policy=FreshnessPolicy(maximum_lag_minutes=18 * 60),
)
def daily_sales():
    return 1


defs = Definitions(assets=[prices, inventory, untracked, daily_sales])


def test_report_gives_status_and_overdue_minutes_from_a_mapping():
    report = freshness_report(
        defs,
        {
            AssetKey("prices"): datetime(2024, 1, 10, 9, tzinfo=UTC),
            AssetKey("inventory"): datetime(2024, 1, 10, 1, tzinfo=UTC),
        },
        now=NOW,
    )
    by_key = {line.asset_key.to_user_string(): line for line in report}
    assert set(by_key) == {"prices", "inventory", "daily_sales"}
    assert by_key["prices"].status is FreshnessStatus.STALE
    assert by_key["prices"].overdue_minutes == 120
    assert by_key["inventory"].status is FreshnessStatus.FRESH
    assert by_key["inventory"].stale_at == datetime(2024, 1, 11, 1, tzinfo=UTC)
    assert by_key["daily_sales"].status is FreshnessStatus.UNKNOWN
    assert by_key["prices"].to_dict()["overdue_minutes"] == 120


def test_partitioned_asset_is_judged_by_its_latest_partition_from_a_status_view():
    class Record:
        def __init__(self, when):
            self.timestamp = when.timestamp()

    class StatusView:
        def latest_materialization(self, key, partition=None):
            if key == AssetKey("daily_sales") and partition == "2024-01-09":
                return Record(datetime(2024, 1, 10, 1, tzinfo=UTC))
            return None

    report = {line.asset_key: line for line in freshness_report(defs, StatusView(), now=NOW)}
    sales = report[AssetKey("daily_sales")]
    assert sales.partition == "2024-01-09"
    assert sales.status is FreshnessStatus.FRESH
    assert report[AssetKey("prices")].status is FreshnessStatus.UNKNOWN


def _status(*materializations):
    """A real status view holding (asset, partitions_def, partition, when) facts."""
    status = InMemoryStatusView()
    for name, pdef, partition, when in materializations:
        subset = pdef.subset_with_partition_keys([partition])
        status.record_materialization(AssetKey(name), subset, timestamp=when.timestamp())
    return status


def test_a_missing_latest_partition_makes_the_asset_stale_by_how_long_it_is_overdue():
    daily = daily_sales.partitions_def
    status = _status(("daily_sales", daily, "2024-01-08", datetime(2024, 1, 9, 1, tzinfo=UTC)))
    # 2024-01-09 ended at midnight; with 18 hours of lag it is due by 18:00.
    early = {x.asset_key: x for x in freshness_report(defs, status, now=NOW)}
    line = early[AssetKey("daily_sales")]
    assert (line.partition, line.status) == ("2024-01-09", FreshnessStatus.FRESH)
    assert line.last_materialization_time is None
    assert line.stale_at == datetime(2024, 1, 10, 18, tzinfo=UTC)
    late = datetime(2024, 1, 10, 20, tzinfo=UTC)
    line = {x.asset_key: x for x in freshness_report(defs, status, now=late)}[
        AssetKey("daily_sales")
    ]
    assert (line.status, line.overdue_minutes) == (FreshnessStatus.STALE, 120)


def test_a_date_by_region_asset_is_judged_by_the_stalest_region_of_the_latest_day():
    daily = DailyPartitionsDefinition("2024-01-01")
    by_region = MultiPartitionsDefinition(
        {"date": daily, "region": StaticPartitionsDefinition(["eu", "us"])}
    )

    @asset(partitions_def=by_region, freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
    def sales_by_region():
        return 1

    regional = Definitions(assets=[sales_by_region])
    status = _status(
        ("sales_by_region", by_region, "2024-01-09|eu", datetime(2024, 1, 10, 0, 30, tzinfo=UTC))
    )
    (line,) = freshness_report(regional, status, now=datetime(2024, 1, 10, 3, tzinfo=UTC))
    assert (line.partition, line.status, line.overdue_minutes) == (
        "2024-01-09|us",
        FreshnessStatus.STALE,
        120,
    )


def test_a_static_partitioned_asset_is_fresh_only_when_every_partition_is():
    regions = StaticPartitionsDefinition(["eu", "us"])

    @asset(partitions_def=regions, freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
    def rates():
        return 1

    regional = Definitions(assets=[rates])
    status = _status(
        ("rates", regions, "eu", datetime(2024, 1, 10, 11, 30, tzinfo=UTC)),
        ("rates", regions, "us", datetime(2024, 1, 10, 9, tzinfo=UTC)),
    )
    (line,) = freshness_report(regional, status, now=NOW)
    assert (line.partition, line.status, line.overdue_minutes) == ("us", FreshnessStatus.STALE, 120)
    status.record_materialization(
        AssetKey("rates"),
        regions.subset_with_partition_keys(["us"]),
        timestamp=datetime(2024, 1, 10, 11, 45, tzinfo=UTC).timestamp(),
    )
    (line,) = freshness_report(regional, status, now=NOW)
    assert (line.partition, line.status) == ("eu", FreshnessStatus.FRESH)  # goes stale first
    assert line.stale_at == datetime(2024, 1, 10, 12, 30, tzinfo=UTC)


def test_a_multi_asset_freshness_policy_applies_to_each_asset_it_produces():
    @multi_asset(
        specs=[AssetSpec("orders"), AssetSpec("refunds", freshness_policy=None)],
        freshness_policy=FreshnessPolicy(maximum_lag_minutes=60),
    )
    def shop_tables():
        return 1, 2

    report = freshness_report(
        Definitions(assets=[shop_tables]),
        {AssetKey("orders"): datetime(2024, 1, 10, 11, 30, tzinfo=UTC)},
        now=NOW,
    )
    assert [(x.asset_key.to_user_string(), x.status) for x in report] == [
        ("orders", FreshnessStatus.FRESH),
        ("refunds", FreshnessStatus.UNKNOWN),
    ]
