"""Keep the daemon's own records from growing without end.

A sensor ticking every 30 s writes 2,880 tick rows a day, and the automation loop an
evaluation per asset it looks at. Rows older than ``ASSAY_TICK_RETENTION_DAYS`` go, but
never the latest tick of each schedule, sensor and loop, nor the latest evaluation of
each asset: "why was this not requested?" always has an answer. A tick a killed daemon
left started is failed first (``ticks.fail_abandoned``, every loop), so it is pruned
like any other. The event log, runs and the audit log are never pruned here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from control_plane.agents.models import ReloadRequest, TickRequest
from control_plane.automation.models import AutomationEvaluation, DaemonTick
from control_plane.automation.ticks import fail_abandoned


@dataclass
class Pruned:
    abandoned: int = 0  # started ticks failed as abandoned
    ticks: int = 0
    evaluations: int = 0
    requests: int = 0


def prune(*, now: datetime | None = None, days: float | None = None) -> Pruned:
    """One pass over every deployment (the daemon's ``retention`` loop)."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.TICK_RETENTION_DAYS if days is None else days)
    pruned = Pruned()
    pruned.abandoned = fail_abandoned(now=now)
    stale = (
        DaemonTick.objects.unscoped()  # housekeeping over every organization's own rows
        .filter(started_at__lt=cutoff)
        .values_list("deployment_id", flat=True)
        .distinct()
    )
    for deployment_id in list(stale):
        pruned.evaluations += _prune_evaluations(deployment_id, cutoff)
        pruned.ticks += _prune_ticks(deployment_id, cutoff)
    pruned.requests += TickRequest.objects.unscoped().filter(created_at__lt=cutoff).delete()[0]
    pruned.requests += ReloadRequest.objects.unscoped().filter(created_at__lt=cutoff).delete()[0]
    return pruned


def _prune_evaluations(deployment_id: int, cutoff: datetime) -> int:
    evaluations = AutomationEvaluation.objects.unscoped().filter(deployment_id=deployment_id)
    latest = evaluations.values("asset_key").annotate(last=Max("id")).values("last")
    return evaluations.filter(evaluation_time__lt=cutoff).exclude(id__in=latest).delete()[0]


def _prune_ticks(deployment_id: int, cutoff: datetime) -> int:
    ticks = DaemonTick.objects.unscoped().filter(deployment_id=deployment_id)
    latest = ticks.values("loop", "location_name", "name").annotate(last=Max("id")).values("last")
    kept_evaluations = (
        AutomationEvaluation.objects.unscoped()
        .filter(deployment_id=deployment_id)
        .values("tick_id")
    )
    # A tick an evaluation still refers to stays with it (deleting would cascade).
    return (
        ticks.filter(started_at__lt=cutoff)
        .exclude(status=DaemonTick.Status.STARTED)
        .exclude(id__in=latest)
        .exclude(id__in=kept_evaluations)
        .delete()[0]
    )
