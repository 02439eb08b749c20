"""Run monitoring: an agent that stops beating is lost, and so are the runs it was running.

A session silent for longer than ``AGENT_HEARTBEAT_TIMEOUT_SECONDS`` is marked disconnected.
Its in-progress runs then fail with reason "agent lost" (a ``max_retries`` tag queues a new
attempt) -- unless the agent came back first: its new session's heartbeats list the runs it
is still executing, which moves them to the new session (``agents.services``). A run assigned
to a lost session but never sent to it goes back to the queue instead. An agent none of
whose sessions beats any more opens an ``agent_offline`` incident (``agents.alert_triggers``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from control_plane.agents import alert_triggers
from control_plane.agents.models import AgentSession
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.runs import services
from control_plane.runs.models import IN_PROGRESS_STATUSES, Run, RunStatus

AGENT_LOST = "agent lost"
_PRINCIPAL = Principal.system("run-monitor")


@dataclass
class MonitorReport:
    sessions_lost: int = 0
    runs_failed: int = 0
    runs_requeued: int = 0
    agents_offline: int = 0  # agent_offline incidents opened
    agents_back: int = 0  # ... and resolved


def monitor_runs(*, now: datetime | None = None) -> MonitorReport:
    """One monitoring pass over every organization (the daemon's job)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS)
    report = MonitorReport()
    report.sessions_lost = (
        AgentSession.objects.unscoped()  # the daemon watches every organization's agents
        .filter(connected=True, last_heartbeat_at__lt=cutoff)
        .update(connected=False, disconnected_at=now)
    )
    lost_run_ids = list(
        Run.objects.unscoped()  # each run is then handled in its own organization's context
        .filter(status__in=IN_PROGRESS_STATUSES, agent_session__last_heartbeat_at__lt=cutoff)
        .values_list("pk", flat=True)
    )
    for run_id in lost_run_ids:
        with transaction.atomic():
            run = (
                Run.objects.unscoped()
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("organization", "agent_session")
                .filter(pk=run_id, status__in=IN_PROGRESS_STATUSES)
                .first()
            )
            if run is None or run.agent_session.last_heartbeat_at >= cutoff:
                continue  # handled elsewhere, or the agent came back meanwhile
            with tenant_context(TenantContext(organization=run.organization, principal=_PRINCIPAL)):
                if run.status == RunStatus.STARTING and run.dispatched_at is None:
                    run.status, run.agent_session, run.assigned_at = RunStatus.QUEUED, None, None
                    run.updated_at = now
                    run.save(update_fields=["status", "agent_session", "assigned_at", "updated_at"])
                    report.runs_requeued += 1
                elif run.status == RunStatus.CANCELING:
                    services.apply_status(
                        run=run,
                        status=RunStatus.CANCELED,
                        reason=f"{run.reason}; {AGENT_LOST}",
                        at=now,
                    )
                else:
                    services.fail_run(run=run, reason=AGENT_LOST)
                    report.runs_failed += 1
    watch = alert_triggers.watch_agents(now=now, cutoff=cutoff)
    report.agents_offline, report.agents_back = watch.opened, watch.resolved
    return report
