"""On PostgreSQL the run daemon's queue loop passes as soon as a run may be assignable
(woken by NOTIFY) instead of polling: the fallback poll is set to a minute here, so a run
assigned within the test's wait was assigned by a wake-up."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import transaction
from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.core.context import tenant_context
from control_plane.daemon import all_loops, run_loops
from control_plane.runs.models import Run, RunStatus
from control_plane.runs.services import apply_status
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(acme, settings):
    """The prod deployment's location ``shop``, served by a live agent session, with the
    daemon's queue loop running (and idle)."""
    settings.RUN_DISPATCH_FALLBACK_SECONDS = 60
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        prod.max_concurrent_runs = 1
        prod.save()
        AgentSession.objects.create(
            organization=ctx.organization,
            agent_id="agent-1",
            deployment_ids=[prod.pk],
            code_locations=["shop"],
        )
    location = load_location(ctx, deployment=prod, name="shop")
    [queue] = [loop for loop in all_loops() if loop.name == "queue"]
    stop = threading.Event()
    daemon = threading.Thread(target=run_loops, args=([queue],), kwargs={"stop": stop})
    daemon.start()
    time.sleep(1.0)  # its first passes (at start, and once it listens) found nothing
    yield location
    stop.set()
    daemon.join(10)
    assert not daemon.is_alive(), "the daemon did not stop while waiting for work"


def wait_for_status(acme, run: Run, status: RunStatus) -> None:
    deadline = time.monotonic() + 10
    with tenant_context(acme.ctx()):
        while Run.objects.get(pk=run.pk).status != status:
            assert time.monotonic() < deadline, f"run {run.pk} did not become {status}"
            time.sleep(0.02)


def test_a_launched_run_is_assigned_at_once(acme, shop):
    run = queue_run(acme.ctx(), location=shop)
    wait_for_status(acme, run, RunStatus.STARTING)


def test_a_run_waiting_for_capacity_is_assigned_as_soon_as_the_running_one_ends(acme, shop):
    first = queue_run(acme.ctx(), location=shop)
    wait_for_status(acme, first, RunStatus.STARTING)
    second = queue_run(acme.ctx(), location=shop)  # max_concurrent_runs is 1
    time.sleep(0.5)
    with tenant_context(acme.ctx()):
        assert Run.objects.get(pk=second.pk).status == RunStatus.QUEUED
        with transaction.atomic():
            locked = Run.objects.select_for_update().get(pk=first.pk)
            apply_status(run=locked, status=RunStatus.SUCCESS, reason="", at=timezone.now())
    wait_for_status(acme, second, RunStatus.STARTING)
