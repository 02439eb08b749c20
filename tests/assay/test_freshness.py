"""Freshness policies and their evaluation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from assay.freshness import (
    FreshnessPolicy,
    FreshnessStatus,
    evaluate_freshness,
    evaluate_freshness_for_assets,
)
from assay.schedules import InvalidCronSchedule, InvalidTimezone


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_fresh_within_the_maximum_lag():
    policy = FreshnessPolicy(maximum_lag_minutes=360)
    result = evaluate_freshness(
        policy, now=utc(2024, 1, 1, 12), last_materialization_time=utc(2024, 1, 1, 8)
    )
    assert result.status is FreshnessStatus.FRESH
    assert result.overdue_minutes == 0
    assert result.stale_at == utc(2024, 1, 1, 14)


def test_stale_beyond_the_maximum_lag_reports_overdue_minutes():
    policy = FreshnessPolicy(maximum_lag_minutes=360)
    result = evaluate_freshness(
        policy, now=utc(2024, 1, 1, 12), last_materialization_time=utc(2024, 1, 1, 3)
    )
    assert result.status is FreshnessStatus.STALE
    assert result.is_stale
    assert result.overdue_minutes == 180
    assert result.required_since == utc(2024, 1, 1, 6)


def test_exactly_at_the_limit_is_fresh():
    policy = FreshnessPolicy(maximum_lag_minutes=60)
    result = evaluate_freshness(
        policy, now=utc(2024, 1, 1, 12), last_materialization_time=utc(2024, 1, 1, 11)
    )
    assert result.status is FreshnessStatus.FRESH


def test_never_materialized_is_unknown():
    result = evaluate_freshness(
        FreshnessPolicy(maximum_lag_minutes=60), now=utc(2024, 1, 1), last_materialization_time=None
    )
    assert result.status is FreshnessStatus.UNKNOWN
    assert result.overdue_minutes is None


def test_cron_policy_is_judged_at_the_last_tick():
    # "By 09:00 Berlin on weekdays, data at most 2 hours old" (09:00 CET = 08:00 UTC).
    policy = FreshnessPolicy(
        maximum_lag_minutes=120, cron_schedule="0 9 * * 1-5", cron_schedule_timezone="Europe/Berlin"
    )
    wednesday_noon = utc(2024, 1, 3, 12)
    fresh = evaluate_freshness(
        policy, now=wednesday_noon, last_materialization_time=utc(2024, 1, 3, 6, 30)
    )
    assert fresh.status is FreshnessStatus.FRESH
    assert fresh.required_since == utc(2024, 1, 3, 6)
    assert fresh.stale_at == utc(2024, 1, 4, 8)  # Thursday's deadline
    stale = evaluate_freshness(
        policy, now=wednesday_noon, last_materialization_time=utc(2024, 1, 3, 5, 0)
    )
    assert stale.status is FreshnessStatus.STALE
    assert stale.overdue_minutes == 60


def test_cron_policy_between_ticks_does_not_go_stale_by_waiting():
    policy = FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 9 * * *")
    result = evaluate_freshness(
        policy, now=utc(2024, 1, 2, 8, 59), last_materialization_time=utc(2024, 1, 1, 8, 30)
    )
    assert result.status is FreshnessStatus.FRESH
    assert result.stale_at == utc(2024, 1, 2, 9)


def test_cron_policy_deadline_follows_dst():
    policy = FreshnessPolicy(
        maximum_lag_minutes=0, cron_schedule="0 9 * * *", cron_schedule_timezone="America/New_York"
    )
    # 10 March 2024: New York moves to EDT, so 09:00 local is 13:00 UTC (was 14:00).
    result = evaluate_freshness(
        policy, now=utc(2024, 3, 10, 13, 30), last_materialization_time=utc(2024, 3, 9, 14)
    )
    assert result.status is FreshnessStatus.STALE
    assert result.required_since == utc(2024, 3, 10, 13)


@pytest.mark.parametrize("lag", [-1, "6h", None, True])
def test_bad_maximum_lag_is_rejected(lag):
    with pytest.raises(ValueError, match="maximum_lag_minutes"):
        FreshnessPolicy(maximum_lag_minutes=lag)


def test_bad_cron_and_timezone_are_rejected():
    with pytest.raises(InvalidCronSchedule):
        FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="daily")
    with pytest.raises(InvalidTimezone):
        FreshnessPolicy(maximum_lag_minutes=60, cron_schedule_timezone="Nowhere/Land")


def test_every_asset_with_a_policy_gets_a_verdict():
    policies = {
        "orders": FreshnessPolicy(60),
        "revenue": FreshnessPolicy(60),
        "new": FreshnessPolicy(5),
    }
    verdicts = evaluate_freshness_for_assets(
        policies,
        now=utc(2024, 1, 1, 12),
        last_materialization_times={
            "orders": utc(2024, 1, 1, 11, 30),
            "revenue": utc(2024, 1, 1, 9),
        },
    )
    assert {k: v.status.value for k, v in verdicts.items()} == {
        "orders": "fresh",
        "revenue": "stale",
        "new": "unknown",
    }
    assert verdicts["revenue"].overdue_minutes == 120
