"""The incidents agents' facts open and resolve: agents went silent, or came back. These live
with the facts (agent sessions) and call the alerts service with plain keys (the agent id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from control_plane.agents.models import AgentSession
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.tenancy.models import Deployment

# An agent silent for longer than this before the monitor first sees it is not reported:
# otherwise the first pass after an upgrade would alert for every agent id ever retired.
AGENT_OFFLINE_LOOKBACK = timedelta(days=1)


@dataclass
class AgentWatch:
    opened: int = 0
    resolved: int = 0


def watch_agents(*, now: datetime, cutoff: datetime) -> AgentWatch:
    """The monitor's pass over every organization's agents.

    An agent (by ``agent_id``) is offline when none of its sessions has beaten since
    ``cutoff`` -- whether its stream was lost or closed -- and it was last seen within
    ``AGENT_OFFLINE_LOOKBACK``: ``agent_offline`` opens in each deployment its latest
    session served. An agent beating again (a new session, or the lost one revived)
    resolves it. Two queries when nothing changes.
    """
    newest_first = Window(
        RowNumber(),
        partition_by=[F("organization_id"), F("agent_id")],
        order_by=[F("last_heartbeat_at").desc(), F("connected_at").desc()],
    )
    latest_sessions = (
        AgentSession.objects.unscoped()  # the monitor watches every organization's agents
        .filter(last_heartbeat_at__gte=cutoff - AGENT_OFFLINE_LOOKBACK)
        .annotate(recency=newest_first)
        .filter(recency=1)  # each agent's latest session, picked by the database
        .values_list("organization_id", "agent_id", "last_heartbeat_at", "deployment_ids")
    )
    latest: dict[tuple[int, str], tuple[datetime, list[int]]] = {
        (org_id, agent_id): (beat, list(deployment_ids))
        for org_id, agent_id, beat, deployment_ids in latest_sessions
    }
    open_now = {
        (org_id, deployment_id, key)
        for org_id, deployment_id, key in Incident.objects.unscoped()  # every organization's
        .filter(kind=IncidentKind.AGENT_OFFLINE, resolved_at__isnull=True)
        .values_list("organization_id", "deployment_id", "key")
    }
    to_open = [
        (deployment_id, agent_id, beat)
        for (org_id, agent_id), (beat, deployment_ids) in latest.items()
        if beat < cutoff
        for deployment_id in deployment_ids
        if (org_id, deployment_id, agent_id) not in open_now
    ]
    alive = {agent for agent, (beat, _) in latest.items() if beat >= cutoff}
    to_resolve = sorted(
        (deployment_id, key) for org_id, deployment_id, key in open_now if (org_id, key) in alive
    )
    report = AgentWatch()
    if not to_open and not to_resolve:
        return report
    deployments = (
        Deployment.objects.unscoped()  # each incident is then written in its own organization
        .select_related("organization")
        .in_bulk({d for d, *_ in to_open + to_resolve})
    )
    for deployment_id, agent_id, beat in to_open:
        deployment = deployments.get(deployment_id)
        if deployment is None:
            continue  # the deployment was deleted since the session opened
        open_incident(
            deployment=deployment,
            kind=IncidentKind.AGENT_OFFLINE,
            key=agent_id,
            details={
                "agent_id": agent_id,
                "last_heartbeat_at": beat,
                "silent_minutes": round((now - beat).total_seconds() / 60, 1),
            },
        )
        report.opened += 1
    for deployment_id, agent_id in to_resolve:
        resolve_incident(
            deployment=deployments[deployment_id], kind=IncidentKind.AGENT_OFFLINE, key=agent_id
        )
        report.resolved += 1
    return report


def agent_connected(*, session: AgentSession) -> int:
    """A session opened: the agent's ``agent_offline`` incidents resolve at once (in every
    deployment of its organization, whatever this session serves). Returns how many."""
    open_incidents = Incident.objects.filter(
        organization_id=session.organization_id,
        kind=IncidentKind.AGENT_OFFLINE,
        key=session.agent_id,
        resolved_at__isnull=True,
    ).select_related("deployment")
    resolved = 0
    for incident in open_incidents:
        resolve_incident(
            deployment=incident.deployment, kind=IncidentKind.AGENT_OFFLINE, key=incident.key
        )
        resolved += 1
    return resolved
