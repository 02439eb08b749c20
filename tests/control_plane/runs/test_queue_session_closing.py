"""A stream that ends while the dequeuer is handing its session a run: the run goes back to
the queue, never stays assigned to the closed session (where nothing would ever send it)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.agents.services import close_session
from control_plane.core.context import tenant_context
from control_plane.runs.models import RunStatus
from control_plane.runs.queue import dequeue_deployment
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db(transaction=True)  # two connections, real commits


def test_a_session_closing_while_the_dequeuer_assigns_to_it_gets_its_run_put_back(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        session = AgentSession.objects.create(
            organization=ctx.organization,
            agent_id="agent-1",
            deployment_ids=[prod.pk],
            code_locations=["shop"],
        )
    run = queue_run(ctx, location=load_location(ctx, deployment=prod, name="shop"))
    assigned, commit, closed = threading.Event(), threading.Event(), threading.Event()
    handed: list = []

    def dequeue() -> None:  # the dequeuer's pass, held open before its commit
        try:
            with transaction.atomic():
                handed.extend(dequeue_deployment(deployment_id=prod.pk, now=timezone.now()))
                assigned.set()
                commit.wait(10)
        finally:
            connection.close()

    def stream_ends() -> None:
        try:
            with tenant_context(ctx):
                close_session(session=session)
            closed.set()
        finally:
            connection.close()

    dequeuer = threading.Thread(target=dequeue)
    dequeuer.start()
    assert assigned.wait(10)
    assert [r.pk for r in handed] == [run.pk]  # given to the session, not committed yet
    ending = threading.Thread(target=stream_ends)
    ending.start()
    closed.wait(0.5)  # the session's close waits for the pass (or, unguarded, finishes)
    commit.set()
    dequeuer.join(10)
    ending.join(10)
    with tenant_context(ctx):
        run.refresh_from_db()
        assert not AgentSession.objects.get(pk=session.pk).connected
    assert (run.status, run.agent_session_id) == (RunStatus.QUEUED, None)
