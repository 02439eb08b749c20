"""Budgets: 80% and 100% open one ``budget`` incident each per month, delivered through the
prod deployment's alert policies (email here); a hard cap refuses launches."""

from __future__ import annotations

from datetime import date

import pytest
from django.core import mail
from django.utils import timezone

from billing import budgets
from billing.errors import BudgetExhausted
from billing.models import DailyUsage
from control_plane.alerts import services as alerts
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import Incident
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
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


def test_a_hard_cap_refuses_launches_once_spent_and_a_soft_budget_does_not(world):
    acme, prod, location = world
    ctx = acme.ctx()
    today = timezone.now().date()
    with tenant_context(ctx):
        budgets.set_budget(ctx=ctx, monthly_credits=100)
    use(acme, prod, location, 100, day=today)
    queue_run(ctx, location=location)  # no hard cap: launches
    with tenant_context(ctx):
        budgets.set_budget(ctx=ctx, monthly_credits=100, hard_cap=True)
    with pytest.raises(BudgetExhausted, match="budget of 100 credits is spent"):
        queue_run(ctx, location=location)
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
    queue_run(ctx, location=location)
