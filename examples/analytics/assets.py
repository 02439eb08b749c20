"""A small analytics pipeline: raw events, daily metrics, and a churn model trained on them."""

from __future__ import annotations

import itertools
import random
from collections import defaultdict
from datetime import date, timedelta

from assay import (
    AssetCheckResult,
    AssetExecutionContext,
    AutomationCondition,
    ConfigurableResource,
    MaterializeResult,
    Output,
    asset,
    asset_check,
)


class EventSource(ConfigurableResource):
    """Where raw product events come from; here a deterministic generator."""

    num_users: int = 40
    days: int = 7
    seed: int = 7

    def fetch(self) -> list[dict]:
        rng = random.Random(self.seed)
        start = date(2026, 11, 1)
        events = []
        for day in range(self.days):
            for user in range(self.num_users):
                if rng.random() < 0.6:
                    events.append(
                        {
                            "day": (start + timedelta(days=day)).isoformat(),
                            "user_id": user,
                            "converted": rng.random() < 0.2,
                        }
                    )
        return events


@asset(group_name="analytics", kinds={"python"}, owners=["data@example.com"], code_version="1")
def user_events(context: AssetExecutionContext, events: EventSource) -> Output:
    """Raw product events, one row per user visit."""
    rows = events.fetch()
    context.log.info("fetched %d events", len(rows))
    return Output(rows, metadata={"row_count": len(rows)})


@asset(
    group_name="analytics",
    kinds={"python"},
    owners=["data@example.com"],
    code_version="1",
    automation_condition=AutomationCondition.eager(),
)
def daily_metrics(user_events: list[dict]) -> Output:
    """Per-day active users and conversions."""
    by_day: dict[str, dict] = defaultdict(lambda: {"active_users": set(), "conversions": 0})
    for row in user_events:
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
