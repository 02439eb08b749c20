"""Claiming and recording daemon ticks.

A tick is claimed by inserting its row: ``(deployment, loop, name, tick_key)`` is unique,
so of several daemon replicas that find the same tick due, exactly one proceeds. A failed
schedule or sensor tick opens a ``tick_failure`` incident (alerts); the next successful
tick of the same instigator resolves it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.agents.models import TickRequest
from control_plane.alerts.models import IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.automation.models import DaemonTick
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

MAX_ERROR_CHARS = 64 * 1024
ALERTED_LOOPS = {DaemonTick.Loop.SCHEDULE, DaemonTick.Loop.SENSOR}


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
) -> DaemonTick:
    """Record the outcome; for schedules and sensors, open or resolve the failure alert."""
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
    if tick.loop in ALERTED_LOOPS:
        _alert(tick)
    if status == DaemonTick.Status.FAILURE:
        log.warning("%s tick %s failed: %s", tick.loop, tick.name or tick.pk, error[:500])
    return tick


def _alert(tick: DaemonTick) -> None:
    key = f"{tick.loop}:{tick.location_name}/{tick.name}"
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
