"""Claiming and recording daemon ticks.

A tick is claimed by inserting its row: ``(deployment, loop, name, tick_key)`` is unique,
so of several daemon replicas that find the same tick due, exactly one proceeds. A failed
schedule, sensor or automation tick opens a ``tick_failure`` incident (alerts); the next
successful tick of the same instigator (for automation: of the deployment) resolves it.
A tick a killed daemon left started is failed once it is ``ABANDONED_AFTER`` old.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone

from control_plane.agents.models import TickRequest
from control_plane.alerts.models import IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.automation.models import DaemonTick
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 64 * 1024
ALERTED_LOOPS = {DaemonTick.Loop.SCHEDULE, DaemonTick.Loop.SENSOR, DaemonTick.Loop.AUTOMATION}
# A tick the daemon claimed but never finished (it was killed mid-tick) is failed after this.
ABANDONED_AFTER = timedelta(minutes=10)
ABANDONED = "the daemon stopped before finishing this tick"


@dataclass(frozen=True)
class Claim:
    """A tick to claim: which instigator, and its key (a schedule's scheduled time)."""

    name: str
    location_name: str
    tick_key: str
    scheduled_time: datetime | None = None
    details: dict[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def daemon_context(deployment: Deployment, label: str) -> Iterator[TenantContext]:
    """Act in ``deployment``'s organization as the daemon (``label`` shows in audit rows)."""
    ctx = TenantContext(
        organization=deployment.organization,
        principal=Principal.system(label),
        deployment=deployment,
    )
    with tenant_context(ctx):
        yield ctx


def claim_tick(
    *,
    deployment: Deployment,
    loop: str,
    tick_key: str,
    name: str = "",
    location_name: str = "",
    scheduled_time: datetime | None = None,
    now: datetime | None = None,
) -> DaemonTick | None:
    """Insert the tick; None when another replica already claimed it."""
    try:
        with transaction.atomic():
            return DaemonTick.objects.create(
                organization_id=deployment.organization_id,
                deployment=deployment,
                loop=loop,
                name=name,
                location_name=location_name,
                tick_key=tick_key,
                scheduled_time=scheduled_time,
                started_at=now or timezone.now(),
            )
    except IntegrityError:
        return None


def claim_ticks(
    *, deployment: Deployment, loop: str, wanted: Iterable[Claim], now: datetime
) -> list[DaemonTick]:
    """Claim many ticks in one statement (``INSERT ... ON CONFLICT DO NOTHING RETURNING``):
    those another replica already holds are left out of the answer."""
    wanted = list(wanted)
    if not wanted:
        return []
    table = DaemonTick._meta.db_table
    columns = (
        "organization_id, deployment_id, loop, name, location_name, tick_key, scheduled_time, "
        "status, started_at, error, skip_reason, run_ids, details"
    )
    row = "(" + ", ".join(["%s"] * 13) + ")"
    params: list[Any] = []
    for claim in wanted:
        params += [
            deployment.organization_id,
            deployment.pk,
            loop,
            claim.name,
            claim.location_name,
            claim.tick_key,
            claim.scheduled_time,
            DaemonTick.Status.STARTED,
            now,
            "",
            "",
            "[]",
            json.dumps(claim.details),
        ]
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join([row] * len(wanted))} "
        "ON CONFLICT (deployment_id, loop, name, tick_key) DO NOTHING RETURNING id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        ids = [r[0] for r in cursor.fetchall()]
    claimed = list(DaemonTick.objects.filter(pk__in=ids).order_by("id"))
    for tick in claimed:
        tick.deployment = deployment
    return claimed


def finish_ticks(ticks: list[DaemonTick], *, open_failures: set[str]) -> None:
    """Record the outcomes already set on ``ticks`` (a batch of one loop's ticks).

    ``open_failures`` holds the keys of the loop's open tick-failure incidents (read once
    for the batch, kept current here), so a success looks for an incident to resolve only
    when one is open.
    """
    for tick in ticks:
        key = _incident_key(tick)
        finish_tick(
            tick,
            status=tick.status,
            error=tick.error,
            skip_reason=tick.skip_reason,
            run_ids=tick.run_ids,
            may_have_open_failure=key in open_failures,
        )
        if tick.status == DaemonTick.Status.FAILURE:
            open_failures.add(key)
        else:
            open_failures.discard(key)


def open_failure_keys(*, deployment: Deployment, loop: str) -> set[str]:
    """Keys of the loop's open tick-failure incidents (one query for a whole pass)."""
    from control_plane.alerts.models import Incident

    return set(
        Incident.objects.filter(
            deployment=deployment,
            kind=IncidentKind.TICK_FAILURE,
            resolved_at__isnull=True,
        )
        .filter(Q(key=loop) | Q(key__startswith=f"{loop}:"))
        .values_list("key", flat=True)
    )


def attach_request(tick: DaemonTick, request: TickRequest) -> None:
    tick.tick_request = request
    tick.save(update_fields=["tick_request"])


def finish_tick(
    tick: DaemonTick,
    *,
    status: str,
    error: str = "",
    skip_reason: str = "",
    run_ids: Iterable[Any] = (),
    details: dict[str, Any] | None = None,
    may_have_open_failure: bool = True,
) -> DaemonTick:
    """Record the outcome; for the alerted loops, a failure opens the tick-failure incident
    and a success resolves it (``may_have_open_failure=False``: the caller knows none is
    open, so no query looks for one)."""
    tick.status = status
    tick.finished_at = timezone.now()
    tick.error = error[-MAX_ERROR_CHARS:]
    tick.skip_reason = skip_reason[:4000]
    tick.run_ids = [str(r) for r in run_ids]
    if details:
        tick.details = {**tick.details, **details}
    tick.save(
        update_fields=[
            "status",
            "finished_at",
            "error",
            "skip_reason",
            "run_ids",
            "details",
        ]
    )
    if tick.loop in ALERTED_LOOPS and (
        status == DaemonTick.Status.FAILURE or may_have_open_failure
    ):
        _alert(tick)
    if status == DaemonTick.Status.FAILURE:
        log.warning("%s tick %s failed: %s", tick.loop, tick.name or tick.pk, error[:500])
    return tick


def fail_abandoned(*, now: datetime, loop: str | None = None) -> int:
    """Fail the ticks (of ``loop``, or of every loop) that a daemon claimed and never
    finished because it was killed mid-tick: started ``ABANDONED_AFTER`` ago, with no
    agent's evaluation awaited (those time out in ``outcomes.collect_answers``).

    Replica-safe: each is failed under a row lock taken with SKIP LOCKED, only while it is
    still started. Returns how many were failed.
    """
    stale = DaemonTick.objects.unscoped().filter(  # every organization's; each in its own
        status=DaemonTick.Status.STARTED,
        tick_request__isnull=True,
        started_at__lt=now - ABANDONED_AFTER,
    )
    if loop is not None:
        stale = stale.filter(loop=loop)
    failed = 0
    for tick in stale.select_related("deployment__organization").order_by("id"):
        label = f"{tick.loop} {tick.name}".strip()
        with daemon_context(tick.deployment, label), transaction.atomic():
            locked = lock_open(tick)
            if locked is None:
                continue  # another replica has it, or it finished meanwhile
            finish_tick(locked, status=DaemonTick.Status.FAILURE, error=ABANDONED)
            failed += 1
    return failed


def lock_open(tick: DaemonTick) -> DaemonTick | None:
    """The tick, locked for the caller's transaction while it is still started; None when
    another replica holds it (SKIP LOCKED) or it has finished."""
    locked = (
        DaemonTick.objects.select_for_update(skip_locked=True)
        .filter(pk=tick.pk, status=DaemonTick.Status.STARTED)
        .first()
    )
    if locked is not None:
        locked.deployment = tick.deployment
    return locked


def _incident_key(tick: DaemonTick) -> str:
    """``schedule:<location>/<name>`` or ``sensor:<location>/<name>``; a loop that ticks
    per deployment (automation) has one key for the deployment: its name."""
    if not (tick.name or tick.location_name):
        return tick.loop
    return f"{tick.loop}:{tick.location_name}/{tick.name}"


def _alert(tick: DaemonTick) -> None:
    key = _incident_key(tick)
    if tick.status == DaemonTick.Status.FAILURE:
        open_incident(
            deployment=tick.deployment,
            kind=IncidentKind.TICK_FAILURE,
            key=key,
            details={
                "loop": tick.loop,
                "name": tick.name,
                "location": tick.location_name,
                "tick_id": tick.pk,
                "error": tick.error[:2000],
            },
        )
    else:
        resolve_incident(deployment=tick.deployment, kind=IncidentKind.TICK_FAILURE, key=key)
