"""The freshness report judges every asset with a policy from a status source and a clock."""

from datetime import UTC, datetime

from assay import (
    AssetKey,
    DailyPartitionsDefinition,
    Definitions,
    FreshnessPolicy,
    FreshnessStatus,
    asset,
    freshness_report,
)

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
