"""Freshness: a contract such as "never more than 6 hours stale", and its evaluation.

Without a cron, the latest materialization must be at most ``maximum_lag_minutes``
old at every moment. With a cron, the contract is checked at each tick: by the tick,
the asset must have been materialized no earlier than ``maximum_lag_minutes`` before
it ("by 09:00 every weekday, data at most 2 hours old"); between ticks the last tick
that passed decides. Evaluation is a pure function of the policy, ``now`` and the
last materialization time, so the daemon and tests give it the clock.
"""

from __future__ import annotations

import enum
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from assay.schedules import cron_ticks, get_timezone, previous_tick, validate_cron_schedule

__all__ = [
    "FreshnessEvaluation",
    "FreshnessPolicy",
    "FreshnessStatus",
    "evaluate_freshness",
    "evaluate_freshness_for_assets",
]

K = TypeVar("K", bound=Hashable)


class FreshnessStatus(enum.StrEnum):
    """Whether an asset meets its freshness contract."""

    FRESH = "fresh"
    STALE = "stale"
    UNKNOWN = "unknown"  # never materialized: there is no data whose age to judge


@dataclass(frozen=True)
class FreshnessPolicy:
    """How stale an asset may get: ``maximum_lag_minutes``, optionally checked on a cron."""

    maximum_lag_minutes: float
    cron_schedule: str | None = None
    cron_schedule_timezone: str = "UTC"

    def __post_init__(self) -> None:
        lag = self.maximum_lag_minutes
        if isinstance(lag, bool) or not isinstance(lag, int | float) or lag < 0:
            raise ValueError(f"maximum_lag_minutes must be a number >= 0, got {lag!r}")
        if self.cron_schedule is not None:
            object.__setattr__(self, "cron_schedule", validate_cron_schedule(self.cron_schedule))
        get_timezone(self.cron_schedule_timezone)

    def to_snapshot(self) -> dict[str, object]:
        """A JSON-friendly description for the code location snapshot."""
        return {
            "maximum_lag_minutes": self.maximum_lag_minutes,
            "cron_schedule": self.cron_schedule,
            "cron_schedule_timezone": self.cron_schedule_timezone,
        }

    @property
    def maximum_lag(self) -> timedelta:
        return timedelta(minutes=self.maximum_lag_minutes)


@dataclass(frozen=True)
class FreshnessEvaluation:
    """The verdict at ``now``.

    ``required_since``: materializations at or after this instant satisfy the contract.
    ``overdue_minutes``: how far the latest materialization falls short of it (0 when
    fresh). ``stale_at``: when a fresh asset becomes stale if nothing new arrives.
    """

    status: FreshnessStatus
    overdue_minutes: float | None
    required_since: datetime
    stale_at: datetime | None = None

    @property
    def is_stale(self) -> bool:
        return self.status is FreshnessStatus.STALE


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def evaluate_freshness(
    policy: FreshnessPolicy,
    *,
    now: datetime,
    last_materialization_time: datetime | None,
) -> FreshnessEvaluation:
    """Judge an asset's freshness at ``now`` from its last materialization time."""
    now = _utc(now)
    lag = policy.maximum_lag
    if policy.cron_schedule is None:
        required_since = now - lag
    else:
        tick = previous_tick(policy.cron_schedule, now, timezone=policy.cron_schedule_timezone)
        required_since = _utc(tick) - lag
    if last_materialization_time is None:
        return FreshnessEvaluation(FreshnessStatus.UNKNOWN, None, required_since)
    last = _utc(last_materialization_time)
    if last < required_since:
        overdue = (required_since - last).total_seconds() / 60
        return FreshnessEvaluation(FreshnessStatus.STALE, overdue, required_since)
    return FreshnessEvaluation(
        FreshnessStatus.FRESH, 0.0, required_since, _stale_at(policy, now, last)
    )


def evaluate_freshness_for_assets(
    policies: Mapping[K, FreshnessPolicy],
    *,
    now: datetime,
    last_materialization_times: Mapping[K, datetime | None],
) -> dict[K, FreshnessEvaluation]:
    """Evaluate every asset that has a policy; assets missing from the times are unknown."""
    return {
        key: evaluate_freshness(
            policy, now=now, last_materialization_time=last_materialization_times.get(key)
        )
        for key, policy in policies.items()
    }


def _stale_at(policy: FreshnessPolicy, now: datetime, last: datetime) -> datetime | None:
    if policy.cron_schedule is None:
        return last + policy.maximum_lag
    assert policy.cron_schedule is not None
    ticks = cron_ticks(
        policy.cron_schedule, start=now, timezone=policy.cron_schedule_timezone, inclusive=False
    )
    for _, tick in zip(range(10_000), ticks, strict=False):
        if _utc(tick) - policy.maximum_lag > last:
            return _utc(tick)
    return None
