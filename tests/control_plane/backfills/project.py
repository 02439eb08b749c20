"""The code location the backfill tests load: raw -> cleaned (daily) -> report, plus an
unrelated daily asset; ``BROKEN`` names the assets that raise on ``BAD_DAY``."""

from __future__ import annotations

from assay import (
    AssetCheckResult,
    DailyPartitionsDefinition,
    Definitions,
    asset,
    asset_check,
)

BAD_DAY = "2024-01-15"
BROKEN: set[str] = set()
# January 1-30: ``report`` reads every day, so a backfill of all of them can finish.
daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-31")


def _fail_on_bad_day(name: str, partition_key: str) -> None:
    if name in BROKEN and partition_key == BAD_DAY:
        raise ValueError(f"the {name} file for {BAD_DAY} is corrupt")


@asset(partitions_def=daily)
def raw(context) -> str:
    _fail_on_bad_day("raw", context.partition_key)
    return context.partition_key


@asset(partitions_def=daily)
def cleaned(context, raw: str) -> str:
    _fail_on_bad_day("cleaned", context.partition_key)
    return raw


@asset
def report(cleaned: dict) -> int:
    return len(cleaned)


@asset(partitions_def=daily)
def unrelated(context) -> int:
    return 1


@asset_check(asset=raw)
def raw_names_its_day(raw: str) -> AssetCheckResult:
    return AssetCheckResult(passed=bool(raw))


DEFINITIONS = Definitions(
    assets=[raw, cleaned, report, unrelated], asset_checks=[raw_names_its_day]
)
