"""Run monitoring: a silent agent is lost and its runs fail with "agent lost" (or retry),
unless the agent comes back and reports them alive."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.agents import services as agent_services
from control_plane.agents.models import AgentSession
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run, RunStatus
from control_plane.runs.monitoring import AGENT_LOST, monitor_runs
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_location(ctx, deployment=prod, name="shop")
    with tenant_context(ctx):
        session = AgentSession.objects.create(
            organization=acme.organization,
            agent_id="agent-1",
            deployment_ids=[prod.pk],
            code_locations=["shop"],
        )
    return ctx, location, session


def started_run(ctx, location, session, **kwargs) -> Run:
    run = queue_run(ctx, location=location, **kwargs)
    assert [r.pk for r in dequeue_runs()] == [run.pk]
    with tenant_context(ctx):
        agent_services.take_commands(session=session)
        Run.objects.filter(pk=run.pk).update(status=RunStatus.STARTED)
        run.refresh_from_db()
    return run


def silence(ctx, session, seconds: float) -> None:
    with tenant_context(ctx):
        AgentSession.objects.filter(pk=session.pk).update(
            last_heartbeat_at=timezone.now() - timedelta(seconds=seconds)
        )


def test_runs_of_an_agent_silent_past_the_timeout_fail_with_agent_lost(setup, settings):
    settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS = 60
    ctx, location, session = setup
    run = started_run(ctx, location, session)
    silence(ctx, session, 30)
    assert monitor_runs().runs_failed == 0
    silence(ctx, session, 61)
    report = monitor_runs()
    assert (report.sessions_lost, report.runs_failed) == (1, 1)
    with tenant_context(ctx):
        run.refresh_from_db()
        assert (run.status, run.reason) == (RunStatus.FAILURE, AGENT_LOST)
        assert not Run.objects.filter(parent_run=run).exists()


def test_a_lost_run_with_retries_left_is_queued_again(setup):
    ctx, location, session = setup
    run = started_run(ctx, location, session, tags={"max_retries": "1"})
    silence(ctx, session, 3600)
    monitor_runs()
    with tenant_context(ctx):
        retry = Run.objects.get(parent_run=run)
        assert (retry.status, retry.retry_count) == (RunStatus.QUEUED, 1)


def test_an_agent_that_reconnects_and_reports_its_runs_alive_keeps_them(setup):
    ctx, location, session = setup
    run = started_run(ctx, location, session)
    with tenant_context(ctx):
        agent_services.close_session(session=session)
        new = AgentSession.objects.create(
            organization=ctx.organization,
            agent_id="agent-1",
            deployment_ids=session.deployment_ids,
            code_locations=["shop"],
        )
        agent_services.record_heartbeat(session=new, running_run_ids=[str(run.pk)])
    silence(ctx, session, 3600)
    assert monitor_runs().runs_failed == 0
    with tenant_context(ctx):
        run.refresh_from_db()
        assert run.status == RunStatus.STARTED and run.agent_session_id == new.pk


def test_a_run_assigned_but_never_sent_goes_back_to_the_queue(setup):
    ctx, location, session = setup
    run = queue_run(ctx, location=location)
    dequeue_runs()
    silence(ctx, session, 3600)
    assert monitor_runs().runs_requeued == 1
    with tenant_context(ctx):
        run.refresh_from_db()
        assert run.status == RunStatus.QUEUED and run.agent_session is None
