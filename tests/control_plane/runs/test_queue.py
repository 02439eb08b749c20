"""The run queue: per-deployment and tag concurrency limits, priority then FIFO, only to a
live agent serving the location, and never the same run twice with several dequeuers."""

from __future__ import annotations

import random
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.core.context import tenant_context
from control_plane.runs.models import IN_PROGRESS_STATUSES, Run, RunStatus
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location

SNOWFLAKE = {"key": "warehouse", "value": "snowflake", "limit": 2}


def setup_deployment(acme, *, max_runs: int, limits=(), count: int, tagged=lambda i: False):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        prod.max_concurrent_runs = max_runs
        prod.run_tag_limits = list(limits)
        prod.save()
    location = load_location(ctx, deployment=prod, name="shop")
    now = timezone.now()
    rng = random.Random(7)
    runs = [
        Run(
            organization=acme.organization,
            deployment=prod,
            code_location=location,
            selection="raw_orders",
            asset_keys=["raw_orders"],
            tags={"warehouse": "snowflake"} if tagged(i) else {},
            priority=rng.choice([0, 0, 0, 5, 10]),
            created_at=now + timedelta(microseconds=i),
        )
        for i in range(count)
    ]
    with tenant_context(ctx):
        Run.objects.bulk_create(runs)
        AgentSession.objects.create(
            organization=acme.organization,
            agent_id="agent-1",
            deployment_ids=[prod.pk],
            code_locations=["shop"],
        )
    return prod


def in_progress(acme):
    with tenant_context(acme.ctx()):
        return list(Run.objects.filter(status__in=IN_PROGRESS_STATUSES))


@pytest.mark.django_db
def test_concurrency_limits_hold_under_200_queued_runs(acme):
    setup_deployment(acme, max_runs=5, limits=[SNOWFLAKE], count=200, tagged=lambda i: i % 2)
    rng = random.Random(3)
    for _ in range(400):
        dequeue_runs()
        running = in_progress(acme)
        assert len(running) <= 5
        assert sum(r.tags.get("warehouse") == "snowflake" for r in running) <= 2
        if not running:
            break
        with tenant_context(acme.ctx()):
            for done in rng.sample(running, k=rng.randint(1, len(running))):
                Run.objects.filter(pk=done.pk).update(status=RunStatus.SUCCESS)
    with tenant_context(acme.ctx()):
        assert set(Run.objects.values_list("status", flat=True)) == {RunStatus.SUCCESS}


@pytest.mark.django_db
def test_priority_first_then_first_in_first_out(acme):
    setup_deployment(acme, max_runs=1, count=30)
    order = []
    for _ in range(30):
        [run] = dequeue_runs()
        order.append((-run.priority, run.created_at))
        with tenant_context(acme.ctx()):
            Run.objects.filter(pk=run.pk).update(status=RunStatus.SUCCESS)
    assert order == sorted(order)


@pytest.mark.django_db
def test_a_run_held_by_a_tag_limit_does_not_hold_back_the_runs_behind_it(acme):
    setup_deployment(acme, max_runs=10, limits=[SNOWFLAKE], count=6, tagged=lambda i: i < 4)
    assigned = dequeue_runs()
    tagged = [r for r in assigned if r.tags]
    assert len(tagged) == 2 and len(assigned) == 4


@pytest.mark.django_db
def test_runs_wait_without_a_live_agent_serving_the_location(acme):
    prod = setup_deployment(acme, max_runs=10, count=3)
    with tenant_context(acme.ctx()):
        AgentSession.objects.update(last_heartbeat_at=timezone.now() - timedelta(hours=1))
    assert dequeue_runs() == []
    with tenant_context(acme.ctx()):
        AgentSession.objects.update(last_heartbeat_at=timezone.now(), code_locations=["other"])
    assert dequeue_runs() == []
    with tenant_context(acme.ctx()):
        AgentSession.objects.update(code_locations=["other", "shop"])
    assert len(dequeue_runs()) == 3
    assert prod.max_concurrent_runs == 10


@pytest.mark.django_db(transaction=True)
def test_two_dequeuers_running_concurrently_never_assign_a_run_twice(acme):
    setup_deployment(acme, max_runs=40, limits=[SNOWFLAKE], count=120, tagged=lambda i: i % 3 == 0)
    results: list[list] = [[], []]
    barrier = threading.Barrier(2)

    def dequeuer(slot: int) -> None:
        try:
            barrier.wait()
            for _ in range(20):
                results[slot].extend(r.pk for r in dequeue_runs())
        finally:
            connection.close()

    threads = [threading.Thread(target=dequeuer, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assigned = results[0] + results[1]
    assert len(assigned) == len(set(assigned)) == 40
    running = in_progress(acme)
    assert len(running) == 40
    assert sum(r.tags.get("warehouse") == "snowflake" for r in running) == 2
