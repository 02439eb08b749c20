"""Schedules: launch a target on a cron, in a time zone, correctly across DST changes.

Tick math is `assay.schedules` (one DST rule everywhere). `evaluate_schedule` is pure:
given the tick's scheduled time it returns the run requests (with a run key per
tick, so a tick retried after a crash never launches twice) or a skip reason.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from assay import schedules as cron
from assay.definitions.default_status import DefaultScheduleStatus, coerce_default_status
from assay.definitions.jobs import AssetJob
from assay.definitions.sensors import (
    RunRequest,
    SensorEvaluationError,
    SensorResult,
    SkipReason,
    check_run_request_partitions,
)
from assay.definitions.targets import Target, coerce_target
from assay.errors import DefinitionError
from assay.partitions import TimeWindowPartitionsDefinition
from assay.schedules import InvalidCronSchedule, InvalidTimezone


@dataclass(frozen=True)
class ScheduleEvaluationContext:
    """What a schedule function gets: the tick it is evaluated for."""

    scheduled_execution_time: datetime
    schedule_name: str
    resources: Mapping[str, Any] = field(default_factory=dict)


class ScheduleDefinition:
    """Launch `target` (a job, a selection, or assets) at every tick of `cron_schedule`."""

    def __init__(
        self,
        *,
        cron_schedule: str,
        target: Target = None,
        job: AssetJob | None = None,
        name: str | None = None,
        execution_timezone: str = "UTC",
        execution_fn: Callable[..., Any] | None = None,
        tags: Mapping[str, str] | None = None,
        description: str | None = None,
        partitions_def: TimeWindowPartitionsDefinition | None = None,
        default_status: DefaultScheduleStatus | str = DefaultScheduleStatus.STOPPED,
    ) -> None:
        if name is None:
            if job is None and not isinstance(target, AssetJob):
                raise DefinitionError("a schedule without a job target needs name=")
            name = f"{(job or target).name}_schedule"  # type: ignore[union-attr]
        where = f"schedule '{name}'"
        try:
            self.cron_schedule = cron.validate_cron_schedule(cron_schedule)
            cron.get_timezone(execution_timezone)
        except (InvalidCronSchedule, InvalidTimezone) as exc:
            raise DefinitionError(f"{where}: {exc}") from exc
        self.name = name
        self.target = coerce_target(target, job, where=where)
        chosen = self.target
        if (
            isinstance(chosen, AssetJob)
            and chosen.partitions_def is not None
            and execution_fn is None
            and partitions_def is None
        ):
            raise DefinitionError(
                f"{where} targets partitioned job '{chosen.name}' but says no partition: "
                "use build_schedule_from_partitioned_job(job), or a @schedule function that "
                "returns RunRequest(partition_key=...)"
            )
        self.execution_timezone = execution_timezone
        self.execution_fn = execution_fn
        self.tags = dict(tags or {})
        self.description = description or (inspect.getdoc(execution_fn) if execution_fn else None)
        self.partitions_def = partitions_def
        self.default_status = coerce_default_status(
            default_status, DefaultScheduleStatus, where=where
        )

    def next_tick(self, after: datetime) -> datetime:
        """The first tick strictly after `after`, in the schedule's zone."""
        return cron.next_tick(self.cron_schedule, after, timezone=self.execution_timezone)

    def previous_tick(self, before: datetime) -> datetime:
        """The last tick at or before `before`."""
        return cron.previous_tick(self.cron_schedule, before, timezone=self.execution_timezone)

    def ticks_between(self, start: datetime, end: datetime) -> list[datetime]:
        """Ticks `t` with `start < t <= end` (what a daemon that slept must catch up on)."""
        return cron.ticks_between(self.cron_schedule, start, end, timezone=self.execution_timezone)

    def __repr__(self) -> str:
        return f"<ScheduleDefinition {self.name} {self.cron_schedule!r} {self.execution_timezone}>"


def schedule(
    cron_schedule: str,
    *,
    target: Target = None,
    job: AssetJob | None = None,
    name: str | None = None,
    execution_timezone: str = "UTC",
    tags: Mapping[str, str] | None = None,
    description: str | None = None,
    default_status: DefaultScheduleStatus | str = DefaultScheduleStatus.STOPPED,
) -> Callable[[Callable[..., Any]], ScheduleDefinition]:
    """Declare a schedule whose function decides what each tick launches: it returns or
    yields `RunRequest`s, or a `SkipReason`."""

    def decorate(fn: Callable[..., Any]) -> ScheduleDefinition:
        return ScheduleDefinition(
            cron_schedule=cron_schedule,
            target=target,
            job=job,
            name=name or fn.__name__,
            execution_timezone=execution_timezone,
            execution_fn=fn,
            tags=tags,
            description=description,
            default_status=default_status,
        )

    return decorate


def build_schedule_from_partitioned_job(
    job: AssetJob,
    *,
    name: str | None = None,
    tags: Mapping[str, str] | None = None,
    default_status: DefaultScheduleStatus | str = DefaultScheduleStatus.STOPPED,
) -> ScheduleDefinition:
    """A schedule that ticks when each partition's window ends and runs that partition.

    The job's partitions definition (`define_asset_job(..., partitions_def=daily)`) gives
    the cron and the time zone: a daily job runs "2024-01-15" at midnight starting Jan 16.
    """
    pdef = job.partitions_def
    if not isinstance(pdef, TimeWindowPartitionsDefinition):
        raise DefinitionError(
            f"job '{job.name}' has no time-window partitions: define it with "
            "define_asset_job(..., partitions_def=DailyPartitionsDefinition(...))"
        )
    return ScheduleDefinition(
        cron_schedule=pdef.cron_schedule,
        job=job,
        name=name or f"{job.name}_schedule",
        execution_timezone=pdef.timezone,
        tags=tags,
        partitions_def=pdef,
        default_status=default_status,
    )


def evaluate_schedule(
    schedule: ScheduleDefinition,
    *,
    scheduled_execution_time: datetime,
    resources: Mapping[str, Any] | None = None,
) -> SensorResult:
    """What the tick at `scheduled_execution_time` launches (pure; no clock is read)."""
    tick = scheduled_execution_time
    default_key = f"{schedule.name}:{tick.isoformat()}"
    if schedule.execution_fn is None:
        if schedule.partitions_def is None:
            return SensorResult(run_requests=(RunRequest(default_key, tags=schedule.tags),))
        # The partition whose window has just ended at this tick.
        key = schedule.partitions_def.get_last_partition_key(tick + timedelta(microseconds=1))
        if key is None:
            return SensorResult(skip_reason="no partition has ended yet")
        request = RunRequest(f"{schedule.name}:{key}", partition_key=key, tags=schedule.tags)
        return SensorResult(run_requests=(request,))
    context = ScheduleEvaluationContext(tick, schedule.name, resources or {})
    fn = schedule.execution_fn
    try:
        raw = fn(context) if inspect.signature(fn).parameters else fn()
        items = list(raw) if inspect.isgenerator(raw) else _as_list(raw)
    except Exception as exc:
        raise SensorEvaluationError(
            f"schedule '{schedule.name}' raised {type(exc).__name__}: {exc}"
        ) from exc
    requests = []
    skip = None
    for item in items:
        if isinstance(item, RunRequest):
            if item.run_key is None:
                suffix = f":{item.partition_key}" if item.partition_key else ""
                item = RunRequest(
                    default_key + suffix,
                    item.partition_key,
                    {**schedule.tags, **item.tags},
                    item.asset_selection,
                )
            requests.append(item)
        elif isinstance(item, SkipReason):
            skip = item.message or "skipped"
        else:
            raise SensorEvaluationError(
                f"schedule '{schedule.name}' produced {type(item).__name__}; return or yield "
                "RunRequest or SkipReason"
            )
    check_run_request_partitions(requests, schedule.target, where=f"schedule '{schedule.name}'")
    if not requests:
        return SensorResult(skip_reason=skip or "the schedule function requested no runs")
    return SensorResult(run_requests=tuple(requests))


def _as_list(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return list(raw)
    return [raw]
