"""The run queue: which QUEUED runs start now, and on which agent session.

Rules, per deployment: at most ``max_concurrent_runs`` runs in progress (STARTING, STARTED,
CANCELING); at most ``limit`` in-progress runs carrying a tag named by one of the
deployment's ``run_tag_limits``; higher priority first, then first in, first out (a run held
back by a tag limit does not hold back the runs behind it); only to a connected agent
session serving the run's deployment and code location; none while a ``core.hooks``
queue hold applies to the organization (billing's credit cap), the runs then carrying its
reason.

Safe with several dequeuers (``run_daemon`` replicas): each deployment is handled under a row
lock taken with ``SELECT ... FOR UPDATE SKIP LOCKED``, so two dequeuers never count the same
capacity twice nor assign the same run; a deployment another dequeuer holds is skipped for
this pass. On SQLite (``assay dev``, one process) the locks are no-ops and writes serialize.

On PostgreSQL, what may make a queued run assignable (a launch, a retry, a run ending, an
agent connecting) calls ``core.wakeups.wake_dequeuer`` in its transaction, and each
assignment wakes the session's stream (``wake_session``), so neither polls while idle.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.core import hooks, wakeups
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.runs.models import IN_PROGRESS_STATUSES, Run, RunStatus
from control_plane.tenancy.models import Deployment

CANDIDATES_PER_PASS = 1000
_PRINCIPAL = Principal.system("run-queue")


def tag_limit_applies(limit: dict[str, Any], tags: dict[str, str]) -> bool:
    """Whether a run with ``tags`` counts against ``limit`` (no ``value``: any value)."""
    key = limit.get("key")
    if key not in tags:
        return False
    value = limit.get("value")
    return value is None or tags[key] == value


def live_sessions(*, now: datetime) -> list[AgentSession]:
    """Connected sessions (of the current organization) that beat within the timeout."""
    cutoff = now - timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)
    return list(AgentSession.objects.filter(connected=True, last_heartbeat_at__gte=cutoff))


def _lock_serving_sessions(deployment: Deployment, now: datetime) -> list[AgentSession]:
    """The live sessions serving ``deployment``, locked until the assignments commit.

    A stream that ends meanwhile closes its session (``close_session``) and puts back the
    runs it was given but never sent: its update waits for this lock, so it sees what this
    pass assigns; or it came first, and the session is no longer connected here.
    """
    serving = [s.pk for s in live_sessions(now=now) if deployment.pk in s.deployment_ids]
    if not serving:
        return []
    return list(
        AgentSession.objects.select_for_update(no_key=True)
        .filter(pk__in=serving, connected=True)
        .order_by("pk")  # one order for every dequeuer: no deadlock between replicas
    )


def dequeue_runs(*, now: datetime | None = None) -> list[Run]:
    """One pass over every deployment with queued runs; returns the runs assigned."""
    now = now or timezone.now()
    deployment_ids = list(
        Run.objects.unscoped()  # the daemon serves every organization, one at a time below
        .filter(status=RunStatus.QUEUED)
        .values_list("deployment_id", flat=True)
        .distinct()
    )
    assigned: list[Run] = []
    for deployment_id in deployment_ids:
        assigned.extend(dequeue_deployment(deployment_id=deployment_id, now=now))
    return assigned


def dequeue_deployment(*, deployment_id: int, now: datetime) -> list[Run]:
    """Assign as many of one deployment's queued runs as its limits and agents allow."""
    with transaction.atomic():
        deployment = (
            Deployment.objects.unscoped()  # resolved to its organization's context just below
            .select_for_update(skip_locked=True)
            .select_related("organization")
            .filter(pk=deployment_id)
            .first()
        )
        if deployment is None:
            return []  # gone, or another dequeuer holds it right now
        ctx = TenantContext(organization=deployment.organization, principal=_PRINCIPAL)
        with tenant_context(ctx):
            held = hooks.queue_hold(ctx)
            if held:  # e.g. billing's credit cap: the runs wait, saying why
                Run.objects.filter(deployment=deployment, status=RunStatus.QUEUED).exclude(
                    reason=held
                ).update(reason=held, updated_at=now)
                return []
            assigned = _assign(deployment, now)
        for session_id in {run.agent_session_id for run in assigned}:
            wakeups.wake_session(session_id)  # its stream sends the launches on commit
        return assigned


def _assign(deployment: Deployment, now: datetime) -> list[Run]:
    running = list(
        Run.objects.filter(deployment=deployment, status__in=IN_PROGRESS_STATUSES).values_list(
            "tags", "agent_session_id"
        )
    )
    capacity = deployment.max_concurrent_runs - len(running)
    if capacity <= 0:
        return []
    sessions = _lock_serving_sessions(deployment, now)
    if not sessions:
        return []
    limits = [lim for lim in deployment.run_tag_limits or [] if isinstance(lim, dict)]
    usage = [sum(tag_limit_applies(lim, tags) for tags, _ in running) for lim in limits]
    load = Counter(session_id for _, session_id in running)
    candidates = (
        Run.objects.filter(deployment=deployment, status=RunStatus.QUEUED)
        .select_related("code_location")
        .select_for_update(skip_locked=True, of=("self",))
        .order_by("-priority", "created_at", "id")[:CANDIDATES_PER_PASS]
    )
    assigned: list[Run] = []
    for run in candidates:
        if capacity <= 0:
            break
        applying = [i for i, lim in enumerate(limits) if tag_limit_applies(lim, run.tags)]
        if any(usage[i] >= int(limits[i].get("limit", 0)) for i in applying):
            continue
        serving = [s for s in sessions if run.code_location.name in s.code_locations]
        if not serving:
            continue
        session = min(serving, key=lambda s: (load[s.pk], str(s.pk)))
        run.status = RunStatus.STARTING
        run.agent_session = session
        run.assigned_at = run.updated_at = now
        run.reason = ""  # a hold it waited under no longer applies
        run.save(update_fields=["status", "agent_session", "assigned_at", "updated_at", "reason"])
        load[session.pk] += 1
        for i in applying:
            usage[i] += 1
        capacity -= 1
        assigned.append(run)
    return assigned
