"""A partitioned code location for backfills, schedules and sensors.

    assay backfill -m examples.analytics.signups --from 2024-01-01 --to 2024-03-31

`raw_signups` and `daily_signups` are daily (Q1 2024), `monthly_signups` rolls the
days of each month up (the mapping daily -> monthly is inferred), and
`signup_forecast` is unpartitioned, so it reads `{day: value}` for every day.
"""

from __future__ import annotations

import random

from assay import (
    AssetExecutionContext,
    DailyPartitionsDefinition,
    Definitions,
    MonthlyPartitionsDefinition,
    RunRequest,
    SensorEvaluationContext,
    asset,
    build_schedule_from_partitioned_job,
    define_asset_job,
    sensor,
)

daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-04-01")
monthly = MonthlyPartitionsDefinition(start_date="2024-01-01", end_date="2024-04-01")


@asset(partitions_def=daily, group_name="signups")
def raw_signups(context: AssetExecutionContext) -> list[int]:
    """Sign-up events of one day (deterministic per day)."""
    rng = random.Random(context.partition_key)
    return [rng.randint(0, 1000) for _ in range(rng.randint(5, 50))]


@asset(partitions_def=daily, group_name="signups")
def daily_signups(raw_signups: list[int]) -> int:
    """How many people signed up that day."""
    return len(raw_signups)


@asset(partitions_def=monthly, group_name="signups")
def monthly_signups(daily_signups: dict[str, int]) -> int:
    """Sign-ups per month: reads every day of its month as {day: count}."""
    return sum(daily_signups.values())


@asset(group_name="signups")
def signup_forecast(daily_signups: dict[str, int]) -> float:
    """A naive forecast: the mean daily sign-ups over every day so far."""
    return sum(daily_signups.values()) / max(len(daily_signups), 1)


daily_job = define_asset_job(
    "daily_signups_job", "raw_signups, daily_signups", partitions_def=daily
)


@sensor(target=daily_job, minimum_interval_seconds=60)
def late_files(context: SensorEvaluationContext):
    """Re-runs a day when its (pretend) late file lands; the cursor remembers the last one."""
    landed = ["2024-01-03", "2024-01-04"]
    for day in landed:
        if context.cursor is None or day > context.cursor:
            yield RunRequest(run_key=f"late-{day}", partition_key=day)
    context.update_cursor(landed[-1])


defs = Definitions(
    assets=[raw_signups, daily_signups, monthly_signups, signup_forecast],
    jobs=[daily_job],
    schedules=[build_schedule_from_partitioned_job(daily_job)],
    sensors=[late_files],
)
