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
from django.db import transaction
from django.utils import timezone

from assay.definitions.schedules import ScheduleDefinition, evaluate_schedule
from assay.errors import AssayError as SdkError
from assay.partitions.snapshot import partitions_def_from_snapshot
from assay.schedules import cron_ticks, previous_tick
from control_plane.agents import services as agents
from control_plane.agents.errors import NoAgentAvailable
from control_plane.automation import ticks
from control_plane.automation.instigators import InstigatorSpec, running
from control_plane.automation.launching import RequestedRun, launch_requested_runs
from control_plane.automation.models import DaemonTick, InstigatorKind, InstigatorState
from control_plane.automation.outcomes import (
    TickOutcome,
    instigator_pass,
    not_launched,
    skip_reason,
)
from control_plane.core.context import Principal, TenantContext
from control_plane.core.errors import AssayError
from control_plane.tenancy import queries as tenancy_queries
from control_plane.tenancy.models import CodeLocation, Deployment

log = logging.getLogger(__name__)

# Catch-up "all": missed ticks run per pass (the next pass continues where this stopped).
MAX_CATCHUP_TICKS = 100
# Catch-up "latest": how many missed ticks are counted for the tick's details, at most.
MAX_COUNTED = 10_000
# Function-less schedules' runs queued per transaction.
LAUNCH_BATCH = 100


def tick_schedules(*, now: datetime | None = None) -> int:
    """One pass over every deployment; returns the number of ticks handled."""
    return instigator_pass(
        loop=DaemonTick.Loop.SCHEDULE, now=now or timezone.now(), handle=_tick_deployment
    )


def _tick_deployment(deployment: Deployment, now: datetime) -> int:
    """Claim every due tick of the deployment in one statement, ask agents to evaluate
    schedule functions, and launch the rest in batches (one transaction per batch)."""
    due: list[tuple[InstigatorSpec, datetime, int]] = []
    advanced: dict[datetime, list[int]] = {}
    for spec, state in running(deployment=deployment, kind=InstigatorKind.SCHEDULE, now=now):
        try:
            scheduled, missed = due_ticks(
                spec, since=state.last_tick_time or now, now=now, catchup=state.catchup
            )
        except SdkError as exc:
            log.error("schedule %s: %s", spec.name, exc)
            continue
        if scheduled:
            due += [(spec, when, missed) for when in scheduled]
            advanced.setdefault(scheduled[-1], []).append(state.pk)
    specs = {(spec.location_name, spec.name): spec for spec, _, _ in due}
    claimed = ticks.claim_ticks(
        deployment=deployment,
        loop=DaemonTick.Loop.SCHEDULE,
        wanted=[
            ticks.Claim(
                spec.name,
                spec.location_name,
                when.isoformat(),
                when,
                {"missed_ticks": missed} if missed else {},
            )
            for spec, when, missed in due
        ],
        now=now,
    )  # what another replica claimed first is not ours to run
    inline = []
    for tick in claimed:
        spec = specs[(tick.location_name, tick.name)]
        if spec.has_function:
            _ask_agent(deployment, spec, tick)
        else:
            inline.append((spec, tick))
    _launch_inline(deployment, inline)
    # Only ever forward, so replicas that computed the same ticks agree.
    for last, state_ids in advanced.items():
        InstigatorState.objects.filter(pk__in=state_ids, last_tick_time__lt=last).update(
            last_tick_time=last, updated_at=now
        )
    return len(claimed)


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


def _ask_agent(deployment: Deployment, spec: InstigatorSpec, tick: DaemonTick) -> None:
    """A schedule function runs in the code location: the answer completes the tick."""
    try:
        request = agents.request_tick(
            deployment=deployment,
            location_name=spec.location_name,
            kind="schedule",
            name=spec.name,
            evaluation_time=tick.scheduled_time,
            timeout_seconds=settings.TICK_TIMEOUT_SECONDS,
        )
    except NoAgentAvailable as exc:
        ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=exc.message)
    else:
        ticks.attach_request(tick, request)  # completed by collect_answers


def _launch_inline(deployment: Deployment, inline: list[tuple[InstigatorSpec, DaemonTick]]) -> None:
    """Schedules without a function: evaluated here, their runs queued LAUNCH_BATCH ticks
    to a transaction. A request that cannot launch fails its own tick only (it is refused
    before anything is written)."""
    if not inline:
        return
    locations: dict[str, CodeLocation] = {}
    open_failures = ticks.open_failure_keys(deployment=deployment, loop=DaemonTick.Loop.SCHEDULE)
    for start in range(0, len(inline), LAUNCH_BATCH):
        batch = inline[start : start + LAUNCH_BATCH]
        with transaction.atomic():
            for spec, tick in batch:
                _launch_one(deployment, spec, tick, locations)
            ticks.finish_ticks([tick for _, tick in batch], open_failures=open_failures)


def _launch_one(
    deployment: Deployment,
    spec: InstigatorSpec,
    tick: DaemonTick,
    locations: dict[str, CodeLocation],
) -> None:
    outcome = evaluate_here(spec, tick.scheduled_time)
    if outcome.error:
        tick.status, tick.error = DaemonTick.Status.FAILURE, outcome.error
        return
    ctx = TenantContext(
        organization=deployment.organization,
        principal=Principal.system(f"schedule {spec.name}"),
        deployment=deployment,
    )
    try:
        if spec.location_name not in locations:
            locations[spec.location_name] = tenancy_queries.get_code_location(
                deployment=deployment, name=spec.location_name
            )
        launched = launch_requested_runs(
            ctx=ctx,
            deployment=deployment,
            spec=spec,
            requests=outcome.run_requests,
            location=locations[spec.location_name],
            keep_run_keys=False,
        )
    except AssayError as exc:
        tick.status = DaemonTick.Status.FAILURE
        tick.error = not_launched(exc.message)
        return
    tick.run_ids = [str(run.id) for run in launched.runs]
    tick.status = DaemonTick.Status.SUCCESS if launched.runs else DaemonTick.Status.SKIPPED
    tick.skip_reason = "" if launched.runs else skip_reason(outcome, launched)


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
