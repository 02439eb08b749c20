"""The schedule loop: which ticks are due, claim each once, and launch what it asks for.

Ticks come from the snapshot's cron and zone (croniter via ``assay.schedules``, correct
across DST). After downtime a schedule has several due ticks; by default only the most
recent runs (``catchup="latest"``), once, and the tick records how many were missed.
A schedule with a function is evaluated by an agent, in the code location; one without
is evaluated here with the SDK's own ``evaluate_schedule``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice, takewhile

from django.conf import settings
from django.utils import timezone

from assay.definitions.schedules import ScheduleDefinition, evaluate_schedule
from assay.errors import AssayError as SdkError
from assay.partitions.snapshot import partitions_def_from_snapshot
from assay.schedules import cron_ticks, previous_tick
from control_plane.agents import services as agents
from control_plane.agents.errors import NoAgentAvailable
from control_plane.automation import ticks
from control_plane.automation.instigators import InstigatorSpec, running
from control_plane.automation.launching import RequestedRun
from control_plane.automation.models import DaemonTick, InstigatorKind, InstigatorState
from control_plane.automation.outcomes import TickOutcome, complete_tick, instigator_pass
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

# Catch-up "all": missed ticks run per pass (the next pass continues where this stopped).
MAX_CATCHUP_TICKS = 100
# Catch-up "latest": how many missed ticks are counted for the tick's details, at most.
MAX_COUNTED = 10_000


def tick_schedules(*, now: datetime | None = None) -> int:
    """One pass over every deployment; returns the number of ticks handled."""
    return instigator_pass(
        loop=DaemonTick.Loop.SCHEDULE, now=now or timezone.now(), handle=_tick_deployment
    )


def _tick_deployment(deployment: Deployment, now: datetime) -> int:
    handled = 0
    for spec, state in running(deployment=deployment, kind=InstigatorKind.SCHEDULE, now=now):
        since = state.last_tick_time or now
        try:
            due, missed = due_ticks(spec, since=since, now=now, catchup=state.catchup)
        except SdkError as exc:
            log.error("schedule %s: %s", spec.name, exc)
            continue
        if not due:
            continue
        for scheduled in due:
            handled += _run_tick(deployment, spec, scheduled, missed=missed)
        # Only ever forward, so replicas that computed the same ticks agree.
        InstigatorState.objects.filter(pk=state.pk, last_tick_time__lt=due[-1]).update(
            last_tick_time=due[-1], updated_at=now
        )
    return handled


def due_ticks(
    spec: InstigatorSpec, *, since: datetime, now: datetime, catchup: str
) -> tuple[list[datetime], int]:
    """The ticks to run now (after ``since``, at or before ``now``) and how many missed
    ticks are skipped. Never walks more than a bounded number of ticks, however long the
    schedule was down: ``latest`` jumps straight to the most recent tick, ``all`` runs
    at most ``MAX_CATCHUP_TICKS`` per pass and the next pass continues from there."""
    cron, zone = spec.cron_schedule, spec.execution_timezone
    latest = previous_tick(cron, now, timezone=zone)
    if latest <= since:
        return [], 0
    upcoming = cron_ticks(cron, start=since, timezone=zone, inclusive=False)
    if catchup == InstigatorState.Catchup.ALL:
        return list(islice(takewhile(lambda t: t <= latest, upcoming), MAX_CATCHUP_TICKS)), 0
    missed = sum(1 for _ in islice(takewhile(lambda t: t < latest, upcoming), MAX_COUNTED))
    return [latest], missed


def _run_tick(
    deployment: Deployment, spec: InstigatorSpec, scheduled: datetime, *, missed: int
) -> int:
    tick = ticks.claim_tick(
        deployment=deployment,
        loop=DaemonTick.Loop.SCHEDULE,
        name=spec.name,
        location_name=spec.location_name,
        tick_key=scheduled.isoformat(),
        scheduled_time=scheduled,
    )
    if tick is None:
        return 0  # another daemon replica has this tick
    if missed:
        tick.details = {"missed_ticks": missed}
        tick.save(update_fields=["details"])
    if spec.has_function:
        try:
            request = agents.request_tick(
                deployment=deployment,
                location_name=spec.location_name,
                kind="schedule",
                name=spec.name,
                evaluation_time=scheduled,
                timeout_seconds=settings.TICK_TIMEOUT_SECONDS,
            )
        except NoAgentAvailable as exc:
            ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=exc.message)
        else:
            ticks.attach_request(tick, request)  # completed by collect_answers
        return 1
    complete_tick(tick, spec=spec, outcome=evaluate_here(spec, scheduled))
    return 1


def evaluate_here(spec: InstigatorSpec, scheduled: datetime) -> TickOutcome:
    """A schedule without a function: what the SDK's ``evaluate_schedule`` launches."""
    try:
        definition = ScheduleDefinition(
            cron_schedule=spec.cron_schedule,
            target=spec.selection,
            name=spec.name,
            execution_timezone=spec.execution_timezone,
            tags=spec.tags,
            partitions_def=partitions_def_from_snapshot(spec.partitions)
            if spec.partitions
            else None,
        )
        result = evaluate_schedule(definition, scheduled_execution_time=scheduled)
    except SdkError as exc:
        return TickOutcome(error=str(exc))
    return TickOutcome(
        run_requests=tuple(
            RequestedRun(
                run_key=r.run_key or "",
                partition_key=r.partition_key or "",
                tags={k: str(v) for k, v in dict(r.tags).items()},
            )
            for r in result.run_requests
        ),
        skip_reason=result.skip_reason or "",
    )
