"""A small analytics pipeline: raw events, daily metrics, and a churn model trained on them."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict

from assay import (
    AssetCheckResult,
    AssetExecutionContext,
    AutomationCondition,
    BackfillPolicy,
    ConfigurableResource,
    DailyPartitionsDefinition,
    MaterializeResult,
    Output,
    asset,
    asset_check,
)

# The first week of November 2026 (end_date is exclusive): seven daily partitions.
days = DailyPartitionsDefinition(start_date="2026-11-01", end_date="2026-11-08")


class EventSource(ConfigurableResource):
    """Where raw product events come from; here a deterministic generator."""

    num_users: int = 40
    seed: int = 7

    def fetch(self, day: str) -> list[dict]:
        """The events of one day (the same on every call, so a re-run changes nothing)."""
        rng = random.Random(f"{self.seed}:{day}")
        return [
            {"day": day, "user_id": user, "converted": rng.random() < 0.2}
            for user in range(self.num_users)
            if rng.random() < 0.6
        ]


@asset(
    partitions_def=days,
    # A range of days (a backfill, or a run with --from/--to) runs as one step.
    backfill_policy=BackfillPolicy.single_run(),
    group_name="analytics",
    kinds={"python"},
    owners=["data@example.com"],
    code_version="1",
)
def user_events(context: AssetExecutionContext, events: EventSource) -> Output:
    """Raw product events, one row per user visit; one partition per day."""
    by_day = {day: events.fetch(day) for day in context.partition_keys}
    rows = sum(len(day_rows) for day_rows in by_day.values())
    span = context.partition_key_range
    days_run = span.start if span.start == span.end else f"{span.start} .. {span.end}"
    context.log.info("fetched %d events for %s", rows, days_run)
    # One partition stores its rows; several store {day: rows}, one value per partition.
    # Metadata is the same on every partition of the run, so it describes the run.
    value = by_day if len(by_day) > 1 else by_day[context.partition_key]
    return Output(value, metadata={"rows_in_run": rows, "days_in_run": len(by_day)})


@asset(
    group_name="analytics",
    kinds={"python"},
    owners=["data@example.com"],
    code_version="1",
    automation_condition=AutomationCondition.eager(),
)
def daily_metrics(user_events: dict[str, list[dict]]) -> Output:
    """Per-day active users and conversions; unpartitioned, so it reads every day of
    user_events as {day: rows}."""
    by_day: dict[str, dict] = defaultdict(lambda: {"active_users": set(), "conversions": 0})
    for rows in user_events.values():
        for row in rows:
            day = by_day[row["day"]]
            day["active_users"].add(row["user_id"])
            day["conversions"] += int(row["converted"])
    metrics = [
        {"day": d, "active_users": len(v["active_users"]), "conversions": v["conversions"]}
        for d, v in sorted(by_day.items())
    ]
    return Output(metrics, metadata={"row_count": len(metrics)})


@asset_check(asset=daily_metrics, blocking=True)
def no_negative_conversions(daily_metrics: list[dict]) -> AssetCheckResult:
    """Conversions can never be negative; if they are, the model must not be retrained."""
    bad = [row["day"] for row in daily_metrics if row["conversions"] < 0]
    return AssetCheckResult(passed=not bad, metadata={"bad_days": bad})


@asset(
    group_name="ml",
    kinds={"python"},
    owners=["ml@example.com"],
    code_version="1",
    automation_condition=AutomationCondition.on_cron("0 6 * * *"),
)
def churn_model(daily_metrics: list[dict]) -> MaterializeResult:
    """A (deliberately tiny) churn model: the share of days with falling activity."""
    falling = sum(
        1
        for prev, cur in itertools.pairwise(daily_metrics)
        if cur["active_users"] < prev["active_users"]
    )
    score = falling / max(len(daily_metrics) - 1, 1)
    return MaterializeResult(metadata={"churn_score": round(score, 3), "days": len(daily_metrics)})
