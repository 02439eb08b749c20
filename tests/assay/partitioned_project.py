"""Partitioned assets at module top level, so multiprocess workers can import them."""

from assay import (
    BackfillPolicy,
    DailyPartitionsDefinition,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
)

daily = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=daily)
def daily_values(context):
    return [1, 2, 3]


@asset(partitions_def=daily)
def daily_total(daily_values):
    return sum(daily_values)


date_by_region = MultiPartitionsDefinition(
    {"date": daily, "region": StaticPartitionsDefinition(["eu", "us"])}
)


@asset(partitions_def=date_by_region, backfill_policy=BackfillPolicy.single_run())
def regional_sales(context):
    return {key: len(key) for key in context.partition_keys}
