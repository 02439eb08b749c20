"""Agent sessions across a control-plane crash: the stream that died with its gRPC server
never closed its session, and the agent's next stream must not leave runs stranded there."""

from __future__ import annotations

import pytest

from control_plane.agents import services
from control_plane.agents.convert import Hello
from control_plane.agents.models import AgentSession
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run, RunStatus
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from tests.control_plane.factories import agent_token, load_location, queue_run

pytestmark = pytest.mark.django_db

HELLO = Hello(
    agent_id="agent-1",
    agent_version="0.1.0",
    deployments=["prod"],
    code_locations=["shop"],
    last_assigned_sequence=0,
)


def test_a_reconnecting_agent_takes_over_what_its_crashed_stream_was_given(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    location = load_location(acme.ctx(), deployment=prod, name="shop")
    agent = services.authenticate(
        authorization=f"Bearer {agent_token(acme.ctx(), deployments=[prod])}"
    )
    with tenant_context(agent):
        crashed = services.open_session(ctx=agent, hello=HELLO)
    stranded = queue_run(acme.ctx(), location=location)
    assert [r.pk for r in dequeue_runs()] == [stranded.pk]  # given, not sent yet

    # The gRPC server is killed: close_session never runs; the agent reconnects elsewhere.
    with tenant_context(agent):
        current = services.open_session(ctx=agent, hello=HELLO)
    later = queue_run(acme.ctx(), location=location)
    dequeue_runs()

    with tenant_context(acme.ctx()):
        assert AgentSession.objects.get(pk=crashed.pk).connected is False
        runs = {r.pk: r for r in Run.objects.all()}
    for run in (stranded, later):
        assert runs[run.pk].status == RunStatus.STARTING
        assert runs[run.pk].agent_session_id == current.pk
