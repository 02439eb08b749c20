"""The sensor loop: ask an agent to evaluate each running sensor that is due, and apply
its answers.

A sensor is claimed by moving its ``next_evaluation_at`` forward (compare-and-set), so
replicas never evaluate one sensor twice for one interval; and a sensor with an
evaluation still outstanding is not asked again, so its cursor never forks. Evaluation
is asynchronous: a sensor that is slow or raises costs only its own tick, never the
others' (answers are collected on every pass).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from control_plane.agents import services as agents
from control_plane.agents.errors import NoAgentAvailable
from control_plane.automation import ticks
from control_plane.automation.instigators import InstigatorSpec, running
from control_plane.automation.models import DaemonTick, InstigatorKind, InstigatorState
from control_plane.automation.outcomes import instigator_pass
from control_plane.tenancy.models import Deployment


def tick_sensors(*, now: datetime | None = None) -> int:
    """One pass: collect answers, then request evaluations of due sensors."""
    return instigator_pass(
        loop=DaemonTick.Loop.SENSOR, now=now or timezone.now(), handle=_tick_deployment
    )


def _tick_deployment(deployment: Deployment, now: datetime) -> int:
    busy = set(
        DaemonTick.objects.filter(
            deployment=deployment, loop=DaemonTick.Loop.SENSOR, status=DaemonTick.Status.STARTED
        ).values_list("location_name", "name")
    )
    requested = 0
    for spec, state in running(deployment=deployment, kind=InstigatorKind.SENSOR, now=now):
        if (spec.location_name, spec.name) in busy:
            continue  # the previous evaluation has not come back yet
        if state.next_evaluation_at is not None and state.next_evaluation_at > now:
            continue
        if not _claim(state, spec, now):
            continue  # another replica took this interval
        requested += _request(deployment, spec, state, now)
    return requested


def _claim(state: InstigatorState, spec: InstigatorSpec, now: datetime) -> bool:
    due = Q(next_evaluation_at__isnull=True) | Q(next_evaluation_at__lte=now)
    return bool(
        InstigatorState.objects.filter(due, pk=state.pk).update(
            next_evaluation_at=now + timedelta(seconds=spec.minimum_interval_seconds),
            updated_at=now,
        )
    )


def _request(deployment: Deployment, spec: InstigatorSpec, state: InstigatorState, now) -> int:
    tick = ticks.claim_tick(
        deployment=deployment,
        loop=DaemonTick.Loop.SENSOR,
        name=spec.name,
        location_name=spec.location_name,
        tick_key=now.isoformat(),
        now=now,
    )
    if tick is None:
        return 0
    try:
        request = agents.request_tick(
            deployment=deployment,
            location_name=spec.location_name,
            kind="sensor",
            name=spec.name,
            evaluation_time=now,
            last_evaluation_time=state.last_tick_time,
            cursor=state.cursor,
            timeout_seconds=settings.TICK_TIMEOUT_SECONDS,
            now=now,
        )
    except NoAgentAvailable as exc:
        ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=exc.message)
    else:
        ticks.attach_request(tick, request)
    return 1
