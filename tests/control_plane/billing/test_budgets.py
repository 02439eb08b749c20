"""Budgets: 80% and 100% open one ``budget`` incident each per month, delivered through the
alert policies of prod and of every deployment with a budget policy (email here); a hard
cap holds runs queued, with the reason, until it lifts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.core import mail
from django.utils import timezone

from billing import budgets
from billing.models import DailyUsage
from control_plane.agents.models import AgentSession
from control_plane.alerts import services as alerts
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import Incident
from control_plane.core.context import tenant_context
from control_plane.runs.models import RunStatus
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from control_plane.tenancy.services.deployments import create_deployment
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db
TODAY = date(2026, 6, 20)


@pytest.fixture
def world(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        location = load_location(ctx, deployment=prod, name="shop")
        alerts.create_alert_policy(
            ctx=ctx, deployment=prod, name="money", kinds=["budget"], emails=["cfo@acme.test"]
        )
    return acme, prod, location


def use(acme, prod, location, credits: int, day: date = TODAY, asset: str = "orders"):
    with tenant_context(acme.ctx()):
        DailyUsage.objects.create(
            organization=acme.organization,
            deployment=prod,
            code_location=location,
            asset_key=f"{asset}{credits}{day}",
            day=day,
            credits=credits,
        )


def incidents(acme) -> list[str]:
    with tenant_context(acme.ctx()):
        return sorted(Incident.objects.filter(kind="budget").values_list("key", flat=True))


def test_80_and_100_percent_alert_once_each_by_email(world):
    acme, prod, location = world
    with tenant_context(acme.ctx()):
        budgets.set_budget(ctx=acme.ctx(), monthly_credits=1_000)
    use(acme, prod, location, 790)
    use(acme, prod, location, 5_000, day=date(2026, 5, 31))  # last month: not counted
    assert budgets.check_budgets(today=TODAY) == 0
    use(acme, prod, location, 10)
    assert budgets.check_budgets(today=TODAY) == 1
    assert budgets.check_budgets(today=TODAY) == 0  # once per threshold and month
    assert incidents(acme) == ["2026-06:80"]
    deliver_due(now=timezone.now())
    (message,) = mail.outbox
    assert message.to == ["cfo@acme.test"]
    assert "80% of the monthly credit budget is used: 800 of 1000" in message.body
    use(acme, prod, location, 300)
    assert budgets.check_budgets(today=TODAY) == 1
    assert incidents(acme) == ["2026-06:100", "2026-06:80"]


def serve(acme, deployment, location) -> None:
    """A connected agent session serving ``location``, so the queue can assign its runs."""
    with tenant_context(acme.ctx()):
        AgentSession.objects.create(
            organization=acme.organization,
            agent_id="agent-1",
            deployment_ids=[deployment.pk],
            code_locations=[location.name],
        )


def test_a_hard_cap_holds_runs_queued_with_the_reason_until_it_is_raised(world):
    acme, prod, location = world
    ctx = acme.ctx()
    today = timezone.now().date()
    serve(acme, prod, location)
    with tenant_context(ctx):
        budgets.set_budget(ctx=ctx, monthly_credits=100)
    use(acme, prod, location, 100, day=today)
    soft = queue_run(ctx, location=location)  # no hard cap: launches
    assert soft.reason == ""
    assert [r.pk for r in dequeue_runs()] == [soft.pk]
    with tenant_context(ctx):
        budgets.set_budget(ctx=ctx, monthly_credits=100, hard_cap=True)
    held = queue_run(ctx, location=location)  # queued, not refused
    assert held.status == RunStatus.QUEUED
    assert held.reason.startswith("credit cap reached: the monthly budget of 100 credits")
    assert dequeue_runs() == []
    with tenant_context(ctx):
        held.refresh_from_db()
    assert (held.status, held.reason[:18]) == (RunStatus.QUEUED, "credit cap reached")
    answer = acme.client().get(f"/api/v1/orgs/acme/deployments/prod/runs/{held.pk}/")
    assert "credit cap reached" in answer.json()["reason"]
    answer = acme.client().put(
        "/api/v1/orgs/acme/billing/budget/", {"monthly_credits": 0}, format="json"
    )
    assert answer.status_code == 400
    raised = acme.client().put(
        "/api/v1/orgs/acme/billing/budget/",
        {"monthly_credits": 500, "hard_cap": True},
        format="json",
    )
    assert raised.json() == {"monthly_credits": 500, "hard_cap": True}
    assert [r.pk for r in dequeue_runs()] == [held.pk]  # the cap lifted: it starts
    with tenant_context(ctx):
        held.refresh_from_db()
    assert (held.status, held.reason) == (RunStatus.STARTING, "")


def test_a_new_month_lifts_the_hard_cap(world):
    """Last month's credits do not count: a cap spent then holds nothing now."""
    acme, prod, location = world
    ctx = acme.ctx()
    serve(acme, prod, location)
    last_month = timezone.now().date().replace(day=1) - timedelta(days=1)
    with tenant_context(ctx):
        budgets.set_budget(ctx=ctx, monthly_credits=100, hard_cap=True)
    use(acme, prod, location, 500, day=last_month)
    run = queue_run(ctx, location=location)
    assert run.reason == ""
    assert [r.pk for r in dequeue_runs()] == [run.pk]


def test_budget_alerts_reach_every_deployment_with_a_budget_policy(world):
    acme, prod, location = world
    ctx = acme.ctx()
    with tenant_context(ctx):
        staging = create_deployment(ctx=ctx, name="staging")
        alerts.create_alert_policy(
            ctx=ctx, deployment=staging, name="ops", kinds=["budget"], emails=["ops@acme.test"]
        )
        budgets.set_budget(ctx=ctx, monthly_credits=100)
    use(acme, prod, location, 85)
    assert budgets.check_budgets(today=TODAY) == 2  # prod and staging
    with tenant_context(ctx):
        where = sorted(
            Incident.objects.filter(kind="budget").values_list("deployment__name", flat=True)
        )
    assert where == ["prod", "staging"]
    deliver_due(now=timezone.now())
    assert sorted(m.to[0] for m in mail.outbox) == ["cfo@acme.test", "ops@acme.test"]
