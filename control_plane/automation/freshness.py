"""The freshness loop: judge every asset's freshness policy and keep incidents in step.

Per deployment with loaded code locations, one pass a minute at most: the pass claims
that minute's ``freshness`` tick (so several daemon replicas judge once), judges each
asset with a policy against the catalog (``catalog.freshness``), opens a
``freshness_violation`` incident for each stale asset and resolves those that are fresh
again (``alerts.incidents``). Opening is idempotent, so a violation alerts once however
many passes see it. Definitions that cannot be rebuilt are a failed tick with the error,
as is a pass that raises.
"""

from __future__ import annotations

import logging
import traceback
from collections import Counter
from datetime import datetime

from django.utils import timezone

from assay.freshness import FreshnessStatus
from control_plane.alerts.incidents import freshness_judged
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.automation import ticks
from control_plane.automation.instigators import deployments_with_snapshots
from control_plane.automation.models import DaemonTick
from control_plane.catalog import deployment_graph as deployment_graphs
from control_plane.catalog.freshness import freshness_graph, judge_freshness
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)


def check_freshness(*, now: datetime | None = None) -> int:
    """One pass over every deployment; returns how many were judged."""
    now = now or timezone.now()
    judged = 0
    ticks.fail_abandoned(loop=DaemonTick.Loop.FRESHNESS, now=now)
    deployments = deployments_with_snapshots()
    deployment_graphs.retain(deployment_ids=[d.pk for d in deployments])
    for deployment in deployments:
        with ticks.daemon_context(deployment, "freshness"):
            judged += _check_deployment(deployment, now)
    return judged


def _has_work(deployment: Deployment) -> bool:
    """Some asset has a policy, or an incident is open (its policy may have been removed)."""
    if freshness_graph(deployment).nodes:
        return True
    return Incident.objects.filter(
        deployment=deployment,
        kind=IncidentKind.FRESHNESS_VIOLATION,
        resolved_at__isnull=True,
    ).exists()


def _check_deployment(deployment: Deployment, now: datetime) -> int:
    try:
        if not _has_work(deployment):
            return 0
        unreadable = ""
    except Exception as exc:  # a snapshot the SDK cannot rebuild: say so in a failed tick
        log.exception("freshness: cannot read the definitions of deployment %s", deployment.pk)
        unreadable = f"the deployment's definitions cannot be rebuilt: {exc}"
    minute = now.replace(second=0, microsecond=0)
    tick = ticks.claim_tick(
        deployment=deployment,
        loop=DaemonTick.Loop.FRESHNESS,
        tick_key=minute.isoformat(),
        scheduled_time=minute,
    )
    if tick is None:
        return 0  # another daemon replica judged this minute
    if unreadable:
        ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=unreadable)
        return 1
    try:
        lines = judge_freshness(deployment=deployment, now=now)
        changes = freshness_judged(deployment=deployment, lines=lines)
    except Exception:
        log.exception("freshness: the pass over deployment %s failed", deployment.pk)
        ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=traceback.format_exc())
        return 1
    counts = Counter(line.status.value for line in lines)
    ticks.finish_tick(
        tick,
        status=DaemonTick.Status.SUCCESS,
        details={
            "assets": len(lines),
            **{status: counts.get(status, 0) for status in ("fresh", "stale", "unknown")},
            "stale_assets": sorted(
                line.asset_key.to_user_string()
                for line in lines
                if line.status is FreshnessStatus.STALE
            )[:100],
            "opened": changes.opened,
            "resolved": changes.resolved,
        },
    )
    return 1
