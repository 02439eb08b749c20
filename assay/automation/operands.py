"""The leaves of a condition: facts about one asset, its dependencies, and time.

Each operand returns the candidates where it holds, computed with subset algebra
(never a loop over partition keys). Operands that are true only because something
happened since the previous tick are *transient*, so the evaluator knows to look
at the asset again next tick.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from assay.automation.condition import AutomationCondition, ConditionResult
from assay.automation.context import AssetContext
from assay.automation.errors import InvalidAutomationCondition
from assay.automation.subsets import AssetSubset, intersect, subtract, union
from assay.partitions import TimeWindowPartitionsDefinition
from assay.schedules import (
    InvalidCronSchedule,
    InvalidTimezone,
    get_timezone,
    next_tick,
    previous_tick,
    validate_cron_schedule,
)


class _Operand(AutomationCondition):
    """A leaf: subclasses compute ``true`` from the context with :meth:`true_subset`."""

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        return ConditionResult(self, candidates, self.true_subset(context, candidates))

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        raise NotImplementedError


class Missing(_Operand):
    """Never materialized (nor observed)."""

    name = "missing()"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        return intersect(candidates, context.tick.missing(context.key))


class InProgress(_Operand):
    """A run has started on the partition and not finished."""

    name = "in_progress()"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        return intersect(candidates, context.tick.in_progress(context.key))


class ExecutionFailed(_Operand):
    """The latest run attempt on the partition failed."""

    name = "execution_failed()"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        return intersect(candidates, context.tick.failed(context.key))


class NewlyUpdated(_Operand):
    """Materialized since the previous tick (false on the first tick: nothing is *newly*)."""

    name = "newly_updated()"
    is_transient = True

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        return intersect(candidates, context.tick.newly_updated(context.key))


class NewlyRequested(_Operand):
    """Requested by the previous tick."""

    name = "newly_requested()"
    is_transient = True

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        previous = context.tick.previous_requested.get(context.key)
        return context.empty_subset if previous is None else intersect(candidates, previous)


class WillBeRequested(_Operand):
    """Already requested in this tick (e.g. by another condition of the same asset).

    Among dependencies this is what lets a parent and child run together: the deps
    operands treat a parent that will be requested as updated and not missing.
    """

    name = "will_be_requested()"
    is_transient = True

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        return intersect(candidates, context.tick.will_be_requested(context.key))


class AnyDepsUpdated(_Operand):
    """Some partition it reads was updated since the previous tick, or will be this tick."""

    name = "any_deps_updated()"
    is_transient = True

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        tick = context.tick
        true = context.empty_subset
        for dep in context.dependencies:
            changed = union(tick.newly_updated(dep.key), tick.will_be_requested(dep.key))
            if changed:
                true = union(true, context.from_parent(dep, changed))
        return intersect(candidates, true)


class AnyDepsMissing(_Operand):
    """Some partition it reads is missing and will not be requested this tick."""

    name = "any_deps_missing()"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        tick = context.tick
        true = context.empty_subset
        for dep in context.dependencies:
            missing = tick.missing(dep.key)
            if missing:
                missing = subtract(missing, tick.will_be_requested(dep.key))
                if missing:
                    true = union(true, context.from_parent(dep, missing))
        return intersect(candidates, true)


class AnyDepsInProgress(_Operand):
    """Some partition it reads is being materialized by a run right now."""

    name = "any_deps_in_progress()"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        tick = context.tick
        true = context.empty_subset
        for dep in context.dependencies:
            running = tick.in_progress(dep.key)
            if running:
                true = union(true, context.from_parent(dep, running))
        return intersect(candidates, true)


def _checked_cron(cron_schedule: str, cron_timezone: str) -> tuple[str, str]:
    try:
        cron = validate_cron_schedule(cron_schedule)
    except InvalidCronSchedule as exc:
        raise InvalidAutomationCondition(str(exc)) from exc
    try:
        get_timezone(cron_timezone)
    except InvalidTimezone as exc:
        raise InvalidAutomationCondition(f"cron {cron_schedule!r}: {exc}") from exc
    return cron, cron_timezone


class _CronOperand(_Operand):
    def __init__(self, cron_schedule: str, cron_timezone: str = "UTC") -> None:
        super().__init__()
        self.cron_schedule, self.cron_timezone = _checked_cron(cron_schedule, cron_timezone)

    def _cron_text(self) -> str:
        zone = "" if self.cron_timezone == "UTC" else f", {self.cron_timezone!r}"
        return f"{self.cron_schedule!r}{zone}"

    def changes_between(self, previous: datetime, current: datetime) -> bool:
        # The next tick alone decides: never list every tick of a long gap.
        return current > previous and (
            next_tick(self.cron_schedule, previous, timezone=self.cron_timezone) <= current
        )

    def latest_tick(self, now: datetime) -> datetime:
        return previous_tick(self.cron_schedule, now, timezone=self.cron_timezone)


class CronTickPassed(_CronOperand):
    """A cron tick passed between the previous tick and this one (false on the first)."""

    is_transient = True

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"cron_tick_passed({self._cron_text()})"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        previous = context.tick.previous_evaluation_time
        if previous is None or not self.changes_between(previous, context.evaluation_time):
            return context.empty_subset
        return candidates


class AllDepsUpdatedSinceCron(_CronOperand):
    """Every dependency was updated (or will be this tick) since the latest cron tick.

    Per partition: each parent partition it reads must be updated at or after the
    tick. An asset without dependencies is vacuously true.
    """

    @property
    def name(self) -> str:  # type: ignore[override]
        return f"all_deps_updated_since_cron({self._cron_text()})"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        tick = context.tick
        since = self.latest_tick(context.evaluation_time).timestamp()
        true = candidates
        for dep in context.dependencies:
            pd = tick.partitions_defs[dep.key]
            fresh = tick.status.updated_since_time(dep.key, pd, timestamp=since)
            stale = subtract(subtract(tick.all_subset(pd), fresh), tick.will_be_requested(dep.key))
            if stale:
                true = subtract(true, context.from_parent(dep, stale))
            if not true:
                break
        return true


class CodeVersionChanged(_Operand):
    """The asset's ``code_version`` differs from the one seen by the previous tick."""

    name = "code_version_changed()"
    is_transient = True

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        if (
            context.has_previous_evaluation
            and context.code_version != context.previous_code_version
        ):
            return candidates
        return context.empty_subset


class InLatestTimeWindow(_Operand):
    """In the most recent time window (optionally widened by ``lookback``).

    For a multi-partitioned asset with a time dimension: the latest window of every key
    of the other dimension. Always true for assets not partitioned by time.
    """

    def __init__(self, lookback: timedelta | None = None) -> None:
        super().__init__()
        self.lookback = lookback

    @property
    def name(self) -> str:  # type: ignore[override]
        if self.lookback is None:
            return "in_latest_time_window()"
        return f"in_latest_time_window({self.lookback})"

    def true_subset(self, context: AssetContext, candidates: AssetSubset) -> AssetSubset:
        pd = context.partitions_def
        if self.lookback is None or not isinstance(pd, TimeWindowPartitionsDefinition):
            return intersect(candidates, context.tick.latest_window(pd))
        now = context.evaluation_time
        count = pd.get_num_partitions(now)
        if not count:
            return context.empty_subset
        end = pd.tick(count)
        first, _ = pd.index_range_overlapping(end - self.lookback, end)
        return intersect(candidates, pd.subset_with_index_ranges([(first, count)]))
