"""An agent none of whose sessions beats any more is reported offline once, in every
deployment it served; connecting again (or beating again) resolves it."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.agents import services as agents
from control_plane.agents.convert import Hello
from control_plane.agents.models import AgentSession
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import AlertDelivery, Incident
from control_plane.core.context import tenant_context
from control_plane.runs.monitoring import monitor_runs
from tests.control_plane.factories import agent_token

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _timeout(settings):
    settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS = 60


@pytest.fixture
def connect(acme, prod):
    """Open a session as the agent's stream does (authenticated with its agent token)."""
    token = agent_token(acme.ctx(), deployments=[prod])

    def connect(agent_id: str = "agent-7") -> AgentSession:
        ctx = agents.authenticate(authorization=f"Bearer {token}")
        with tenant_context(ctx):
            return agents.open_session(
                ctx=ctx,
                hello=Hello(agent_id, "1.0", ["prod"], ["loc"], last_assigned_sequence=0),
            )

    return connect


def silence(session: AgentSession, minutes: float) -> None:
    AgentSession.objects.unscoped().filter(pk=session.pk).update(
        last_heartbeat_at=timezone.now() - timedelta(minutes=minutes)
    )


def _incidents():
    return list(Incident.objects.unscoped().filter(kind="agent_offline").order_by("id"))


def test_a_silent_agent_is_reported_once_and_reconnecting_resolves(
    acme, prod, connect, make_policy, smtp_server
):
    make_policy(kinds=["agent_offline"], emails=["ops@acme.test"])
    session = connect()
    assert monitor_runs().agents_offline == 0

    silence(session, 5)
    report = monitor_runs()
    assert (report.sessions_lost, report.agents_offline) == (1, 1)
    assert monitor_runs().agents_offline == 0  # still offline: nothing new
    (incident,) = _incidents()
    assert (incident.deployment_id, incident.key) == (prod.pk, "agent-7")
    assert incident.details["agent_id"] == "agent-7" and incident.details["silent_minutes"] >= 5

    connect()  # the agent's next stream
    (incident,) = _incidents()
    assert incident.resolved_at is not None
    assert deliver_due(now=timezone.now() + timedelta(seconds=1)).sent == 2
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[Assay] Agent offline in acme/prod: agent-7",
        "[Assay] Resolved: Agent offline in acme/prod: agent-7",
    ]


def test_an_agent_whose_stream_closed_is_offline_once_the_timeout_passes(connect, acme):
    session = connect()
    with tenant_context(acme.ctx()):
        agents.close_session(session=session)
    assert monitor_runs().agents_offline == 0  # it may be reconnecting
    silence(session, 2)
    assert monitor_runs().agents_offline == 1


def test_one_live_session_keeps_an_agent_online(connect):
    older, _live = connect(), connect()  # the agent reconnected; its older stream is gone
    silence(older, 10)
    report = monitor_runs()
    # Reconnecting closed the older session (a stream killed with its server cannot), so
    # it is not lost either, and the agent is online.
    assert (report.sessions_lost, report.agents_offline) == (0, 0)
    assert AgentSession.objects.unscoped().get(pk=older.pk).connected is False
    assert _incidents() == []


def test_a_lost_session_that_beats_again_resolves_on_the_next_pass(connect, acme):
    session = connect()
    silence(session, 5)
    assert monitor_runs().agents_offline == 1
    with tenant_context(acme.ctx()):
        agents.record_heartbeat(session=session, running_run_ids=[])
    assert monitor_runs().agents_back == 1
    assert [i.resolved_at is not None for i in _incidents()] == [True]


def test_agents_silent_for_more_than_a_day_are_not_reported(connect, make_policy):
    make_policy(kinds=["agent_offline"], emails=["ops@acme.test"])
    silence(connect("retired-agent"), 2 * 24 * 60)
    assert monitor_runs().agents_offline == 0
    assert AlertDelivery.objects.unscoped().count() == 0
