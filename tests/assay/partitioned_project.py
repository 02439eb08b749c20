"""Partitioned assets at module top level, so multiprocess workers can import them."""

from assay import DailyPartitionsDefinition, asset

daily = DailyPartitionsDefinition(start_date="2024-01-01")


@asset(partitions_def=daily)
def daily_values(context):
    return [1, 2, 3]


@asset(partitions_def=daily)
def daily_total(daily_values):
    return sum(daily_values)
