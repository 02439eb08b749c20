"""The usage API and console page read the rollups; Org Admins change the plan, audited."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import Client

from billing.models import DailyUsage
from billing.usage import CHART_DAYS, usage
from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries, services
from control_plane.tenancy.models import Organization
from control_plane.tenancy.roles import Role
from tests.control_plane.conftest import make_org

pytestmark = pytest.mark.django_db

TODAY = date(2026, 6, 10)  # 30-day month, day 10


def seed_usage(org, rows):
    ctx = org.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        staging = services.create_deployment(ctx=ctx, name="staging")
        shop = services.create_code_location(ctx=ctx, deployment=prod, name="shop")
        lab = services.create_code_location(ctx=ctx, deployment=staging, name="lab")
        where = {"prod": (prod, shop), "staging": (staging, lab)}
        for deployment, asset, day, credits in rows:
            d, loc = where[deployment]
            DailyUsage.objects.create(
                organization=org.organization,
                deployment=d,
                code_location=loc,
                asset_key=asset,
                day=day,
                credits=credits,
            )


@pytest.fixture
def starter():
    org = make_org("shop", plan="starter")
    seed_usage(
        org,
        [
            ("prod", "orders", TODAY, 300),
            ("prod", "orders", TODAY - timedelta(days=9), 200),  # June 1st
            ("prod", "users", TODAY - timedelta(days=3), 250),
            ("staging", "orders", TODAY - timedelta(days=1), 250),
            ("prod", "orders", TODAY - timedelta(days=10), 9_999),  # May: not this month
        ],
    )
    return org


def test_usage_sums_the_month_per_deployment_location_and_asset(starter):
    with tenant_context(starter.ctx()):
        current = usage(ctx=starter.ctx(), today=TODAY)
    assert current.month_to_date == 1_000
    assert current.per_deployment == [("prod", 750), ("staging", 250)]
    assert current.per_location == [("prod", "shop", 750), ("staging", "lab", 250)]
    assert current.top_assets == [("orders", 750), ("users", 250)]
    assert len(current.per_day) == CHART_DAYS and current.per_day[-1] == (TODAY, 300)
    assert dict(current.per_day)[TODAY - timedelta(days=10)] == 9_999
    assert current.projected_credits == 3_000  # 1,000 in 10 of 30 days
    assert str(current.bill_to_date.total) == "135.00"  # type: ignore[union-attr]
    assert str(current.projected_bill.total) == "205.00"  # type: ignore[union-attr]
    assert (current.users, current.code_locations) == (1, 2)


def test_the_api_answers_the_same_and_nothing_of_another_org(starter):
    other = make_org("other", plan="starter")
    mine = starter.client().get("/api/v1/orgs/shop/billing/usage/").json()
    theirs = other.client().get("/api/v1/orgs/other/billing/usage/").json()
    assert mine["plan"]["tier"] == "starter" and mine["plan"]["user_limit"] == 3
    assert theirs["month_to_date"] == 0 and theirs["top_assets"] == []
    assert other.client().get("/api/v1/orgs/shop/billing/usage/").status_code == 404


def test_an_org_admin_changes_the_plan_audited_and_others_may_not(starter):
    _, viewer_token = starter.member_with_role(Role.VIEWER)
    refused = starter.client(viewer_token).put(
        "/api/v1/orgs/shop/billing/plan/", {"plan": "pro"}, format="json"
    )
    assert refused.status_code == 403
    bad = starter.client().put("/api/v1/orgs/shop/billing/plan/", {"plan": "gold"}, format="json")
    assert bad.status_code == 400 and "no plan 'gold'" in bad.json()["detail"]
    # Two users, two code locations: Solo (one of each) is refused, nothing changes.
    solo = starter.client().put("/api/v1/orgs/shop/billing/plan/", {"plan": "solo"}, format="json")
    assert solo.status_code == 402
    assert solo.json()["detail"].startswith(
        "the Solo plan allows 1 user and this organization has 2"
    )
    assert Organization.objects.get(slug="shop").plan == "starter"

    answer = starter.client().put("/api/v1/orgs/shop/billing/plan/", {"plan": "pro"}, format="json")

    assert answer.status_code == 200, answer.json()
    assert Organization.objects.get(slug="shop").plan == "pro"
    with tenant_context(starter.ctx()):
        event = AuditEvent.objects.get(action="billing.plan_change")
    assert (event.before, event.after) == ({"plan": "starter"}, {"plan": "pro"})


def test_the_console_page_shows_the_chart_the_bill_and_the_plan(starter):
    client = Client()
    client.force_login(starter.admin)
    page = client.get("/o/shop/billing/")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in html
    assert "Starter plan" in html and "1 of 3" in html
    assert 'name="plan"' in html  # an Org Admin may change it
    changed = client.post("/o/shop/billing/", {"plan": "enterprise"})
    assert changed.status_code == 302
    assert Organization.objects.get(slug="shop").plan == "enterprise"
