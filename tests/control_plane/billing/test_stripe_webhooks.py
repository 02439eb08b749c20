"""Stripe webhooks at /billing/stripe/webhook/: verified by the real ``stripe`` library,
each event id handled once; past due shows a banner, and after the grace period launches
are refused. Signatures are made here the way Stripe makes them (HMAC-SHA256 of
``"{t}.{body}"`` with the endpoint's secret): the test plays Stripe's part."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from billing.errors import PaymentPastDue
from billing.models import BillingAccount, StripeEvent
from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db

SECRET = "whsec_test_secret"
URL = "/billing/stripe/webhook/"


@pytest.fixture(autouse=True)
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = SECRET


@pytest.fixture
def account(acme) -> BillingAccount:
    with tenant_context(acme.ctx()):
        return BillingAccount.objects.create(
            organization=acme.organization, stripe_customer_id="cus_1"
        )


def stripe_event(event_id: str, kind: str, obj: dict) -> bytes:
    return json.dumps(
        {"id": event_id, "object": "event", "type": kind, "data": {"object": obj}}
    ).encode()


def post(body: bytes, *, secret: str = SECRET, at: int | None = None):
    t = at if at is not None else int(time.time())
    signature = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return Client().post(
        URL, body, content_type="application/json", HTTP_STRIPE_SIGNATURE=f"t={t},v1={signature}"
    )


def fresh(account: BillingAccount) -> BillingAccount:
    return BillingAccount.objects.unscoped().get(pk=account.pk)


def status(account: BillingAccount) -> str:
    return fresh(account).status


def test_a_failed_payment_makes_the_org_past_due_once_and_paying_clears_it(acme, account):
    failed = stripe_event("evt_1", "invoice.payment_failed", {"customer": "cus_1"})
    assert post(failed).json() == {"received": True, "duplicate": False}
    assert status(account) == "past_due"
    first_since = fresh(account).past_due_since
    assert first_since is not None

    assert post(failed).json() == {"received": True, "duplicate": True}  # redelivered
    assert StripeEvent.objects.filter(event_id="evt_1").count() == 1
    assert fresh(account).past_due_since == first_since

    client = Client()
    client.force_login(acme.admin)
    assert 'id="past-due"' in client.get("/o/acme/billing/").content.decode()
    assert 'id="past-due"' in client.get("/o/acme/d/prod/runs/").content.decode()  # every page

    post(stripe_event("evt_2", "invoice.paid", {"customer": "cus_1"}))
    assert status(account) == "active" and fresh(account).past_due_since is None
    with tenant_context(acme.ctx()):
        changes = list(
            AuditEvent.objects.filter(action="billing.payment_status").values_list(
                "after", flat=True
            )
        )
    assert [c["status"] for c in changes] == ["past_due", "active"]
    assert 'id="past-due"' not in client.get("/o/acme/billing/").content.decode()
    assert 'id="past-due"' not in client.get("/o/acme/d/prod/runs/").content.decode()


def test_forged_and_replayed_events_are_refused_and_change_nothing(account):
    body = stripe_event("evt_3", "invoice.payment_failed", {"customer": "cus_1"})
    forged = post(body, secret="whsec_someone_else")
    stale = post(body, at=int(time.time()) - 3600)  # a captured event sent again later
    unsigned = Client().post(URL, body, content_type="application/json")
    for answer in (forged, stale, unsigned):
        assert answer.status_code == 400
        assert answer.json() == {"detail": "the Stripe signature does not verify"}
    assert status(account) == "active"
    assert not StripeEvent.objects.exists()


def test_subscription_updates_and_cancellation_follow_stripe(account):
    post(
        stripe_event(
            "evt_4", "customer.subscription.updated", {"customer": "cus_1", "status": "past_due"}
        )
    )
    assert status(account) == "past_due"
    post(stripe_event("evt_5", "customer.subscription.deleted", {"customer": "cus_1"}))
    assert status(account) == "canceled"


def test_launches_are_refused_after_the_grace_period_with_a_clear_message(acme, account):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_location(ctx, deployment=prod, name="shop")
    post(stripe_event("evt_6", "invoice.payment_failed", {"customer": "cus_1"}))
    queue_run(ctx, location=location)  # within the grace period: still launches

    BillingAccount.objects.unscoped().filter(pk=account.pk).update(
        past_due_since=timezone.now() - timedelta(days=8)
    )
    with pytest.raises(PaymentPastDue, match="7-day grace period is over: launches are refused"):
        queue_run(ctx, location=location)
