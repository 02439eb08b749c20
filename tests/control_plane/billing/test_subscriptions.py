"""Starting a subscription (API and console) against the Stripe stand-in, with the real
``stripe`` library; invoices from Stripe on the usage page and in the API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.test import Client

from billing.models import BillingAccount
from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Organization
from control_plane.tenancy.roles import Role
from tests.control_plane.billing.stripe_standin import StripeStandIn
from tests.control_plane.conftest import make_org

pytestmark = pytest.mark.django_db
PRICES = {"solo": "price_solo", "starter": "price_starter"}


@pytest.fixture
def standin(settings) -> Iterator[StripeStandIn]:
    server = StripeStandIn()
    server.start()
    settings.STRIPE_API_KEY = "sk_test_standin"
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_PRICE_IDS = PRICES
    yield server
    server.stop()


@pytest.fixture
def solo():
    return make_org("solo-co", plan="solo")


def test_an_org_admin_subscribes_through_the_api_once_and_it_is_audited(solo, standin):
    answer = solo.client().post(
        "/api/v1/orgs/solo-co/billing/subscription/", {"plan": "starter"}, format="json"
    )
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["plan"] == "starter"
    assert body["stripe_subscription"] in standin.subscriptions
    (subscription,) = standin.subscriptions.values()
    assert subscription["customer"] == body["stripe_customer"]
    prices = [f["items[0][price]"] for p, f in standin.requests if p == "/v1/subscriptions"]
    assert prices == ["price_starter"]
    assert Organization.objects.get(slug="solo-co").plan == "starter"
    again = solo.client().post(
        "/api/v1/orgs/solo-co/billing/subscription/", {"plan": "starter"}, format="json"
    )
    assert again.status_code == 201 and len(standin.subscriptions) == 1  # created once
    with tenant_context(solo.ctx()):
        actions = list(
            AuditEvent.objects.filter(action__startswith="billing.").values_list(
                "action", flat=True
            )
        )
    assert actions.count("billing.subscription_start") == 2
    assert "billing.plan_change" in actions


def test_contract_plans_viewers_and_unconfigured_stripe_are_refused_with_nothing_written(
    solo, standin, settings
):
    contract = solo.client().post(
        "/api/v1/orgs/solo-co/billing/subscription/", {"plan": "pro"}, format="json"
    )
    assert contract.status_code == 400 and "contact sales" in contract.json()["detail"]
    settings.STRIPE_API_KEY = ""
    unconfigured = solo.client().post(
        "/api/v1/orgs/solo-co/billing/subscription/", {"plan": "starter"}, format="json"
    )
    assert unconfigured.status_code == 400
    assert "STRIPE_API_KEY" in unconfigured.json()["detail"]
    assert standin.requests == []
    assert Organization.objects.get(slug="solo-co").plan == "solo"
    assert not BillingAccount.objects.unscoped().exists()


def test_a_viewer_cannot_subscribe(standin):
    starter = make_org("starter-co", plan="starter")
    _, viewer_token = starter.member_with_role(Role.VIEWER)
    refused = starter.client(viewer_token).post(
        "/api/v1/orgs/starter-co/billing/subscription/", {"plan": "solo"}, format="json"
    )
    assert refused.status_code == 403
    assert standin.requests == []


def test_invoices_from_stripe_are_listed_in_the_api_and_on_the_usage_page(solo, standin):
    client = Client()
    client.force_login(solo.admin)
    page = client.get("/o/solo-co/billing/").content.decode()
    assert "No invoices yet." in page and 'id="subscribe"' in page
    answer = client.post("/o/solo-co/billing/", {"action": "subscribe", "plan": "solo"})
    assert answer.status_code == 302
    account = BillingAccount.objects.unscoped().get()
    standin.add_invoice(account.stripe_customer_id, total=12_345, status="paid")
    standin.add_invoice("cus_someone_else", total=99, status="paid")
    listed = solo.client().get("/api/v1/orgs/solo-co/billing/invoices/").json()["results"]
    assert [(i["number"], i["status"], i["total"]) for i in listed] == [
        ("ASSAY-0002", "paid", "123.45 USD"),
        ("ASSAY-0001", "open", "100.00 USD"),
    ]
    page = client.get("/o/solo-co/billing/").content.decode()
    assert "ASSAY-0002" in page and "123.45 USD" in page and "ASSAY-0003" not in page
    assert 'id="subscribe"' not in page and account.stripe_subscription_id in page


def test_stripe_unreachable_is_said_on_the_usage_page_not_a_500(solo, standin):
    client = Client()
    client.force_login(solo.admin)
    client.post("/o/solo-co/billing/", {"action": "subscribe", "plan": "solo"})
    standin.stop()
    page = client.get("/o/solo-co/billing/")
    assert page.status_code == 200
    assert "Invoices are unavailable right now" in page.content.decode()
