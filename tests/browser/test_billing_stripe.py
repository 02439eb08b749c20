"""Billing with Stripe in a real browser over a real `assay dev` stack whose `stripe`
library talks to the local stand-in: an Org Admin starts a subscription from the usage
page, its invoice is listed there, and a failed payment (a signed webhook) puts the
past-due banner on every console page until the invoice is paid."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.request

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import STRIPE_WEBHOOK_SECRET
from tests.browser.test_console import PASSWORD, api

pytestmark = pytest.mark.slow


def webhook(stack, event_id: str, kind: str, customer: str) -> None:
    """Post a webhook signed as Stripe signs it (the test plays Stripe's part)."""
    body = json.dumps(
        {
            "id": event_id,
            "object": "event",
            "type": kind,
            "data": {"object": {"customer": customer}},
        }
    ).encode()
    t = int(time.time())
    mac = hmac.new(STRIPE_WEBHOOK_SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256)
    request = urllib.request.Request(
        f"{stack.base_url}/billing/stripe/webhook/",
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Stripe-Signature": f"t={t},v1={mac.hexdigest()}",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200


def test_subscribing_listing_invoices_and_the_past_due_banner(dev_stack, stripe_standin, page):
    api(dev_stack, "POST", "orgs/dev/members/", {"email": "billing-admin@example.com"})
    page.goto(dev_stack.mailbox.next_link())
    page.fill("input[name=password]", PASSWORD)
    page.click("#accept")
    members = api(dev_stack, "GET", "orgs/dev/members/?limit=500")["results"]
    member = next(m for m in members if m["email"] == "billing-admin@example.com")
    api(dev_stack, "POST", "orgs/dev/grants/", {"member_id": member["id"], "role": "org_admin"})
    try:
        page.goto(f"{dev_stack.base_url}/o/dev/billing/")
        expect(page.locator("#invoices")).to_contain_text("No invoices yet.")
        page.select_option("#subscribe select[name=plan]", "starter")
        page.click("#subscribe button[type=submit]")
        expect(page.locator(".flash.success")).to_contain_text("Subscribed to the starter plan")
        (subscription,) = stripe_standin.subscriptions.values()
        expect(page.locator("#subscription")).to_contain_text(subscription["id"])
        expect(page.locator("#subscribe")).to_have_count(0)
        # The subscription's first invoice, read from Stripe (the stand-in) for this page.
        expect(page.locator("#invoices")).to_contain_text("ASSAY-0001")
        expect(page.locator("#invoices")).to_contain_text("100.00 USD")
        expect(page.locator("#past-due")).to_have_count(0)

        webhook(dev_stack, "evt_browser_1", "invoice.payment_failed", subscription["customer"])
        page.goto(f"{dev_stack.base_url}/o/dev/d/prod/runs/")
        expect(page.locator("#past-due")).to_contain_text("Payment is past due since")
        page.click("#past-due a")  # the banner links to the usage page
        expect(page.locator("#past-due")).to_be_visible()
        expect(page.locator("#invoices")).to_be_visible()

        webhook(dev_stack, "evt_browser_2", "invoice.paid", subscription["customer"])
        page.goto(f"{dev_stack.base_url}/o/dev/d/prod/graph/")
        expect(page.locator('[data-asset="user_events"]')).to_be_visible()
        expect(page.locator("#past-due")).to_have_count(0)
    finally:
        # Other browser tests share the stack: back to the dev plan's unlimited seats.
        api(dev_stack, "PUT", "orgs/dev/billing/plan/", {"plan": "enterprise"})
