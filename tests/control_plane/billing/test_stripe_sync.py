"""The real ``stripe`` library against a local stand-in: one customer and subscription per
organization, usage reported once per day even after a crash between sending and recording."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from unittest import mock

import pytest

from billing import stripe_sync
from billing.models import DailyUsage, UsageReport
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries, services
from tests.control_plane.billing.stripe_standin import StripeStandIn

pytestmark = pytest.mark.django_db
DAY = date(2026, 6, 1)


@pytest.fixture
def standin(settings) -> Iterator[StripeStandIn]:
    server = StripeStandIn()
    server.start()
    settings.STRIPE_API_KEY = "sk_test_standin"
    settings.STRIPE_API_BASE = server.url
    yield server
    server.stop()


def test_customer_and_subscription_are_created_once(acme, standin):
    with tenant_context(acme.ctx()):
        first = stripe_sync.ensure_subscription(ctx=acme.ctx(), price="price_credits")
        again = stripe_sync.ensure_subscription(ctx=acme.ctx(), price="price_credits")
    assert first.stripe_customer_id == again.stripe_customer_id
    assert first.stripe_customer_id.startswith("cus_")
    assert len(standin.customers) == 1 and len(standin.subscriptions) == 1
    (subscription,) = standin.subscriptions.values()
    assert subscription["customer"] == first.stripe_customer_id


def test_a_day_is_reported_once_even_after_a_crash_before_recording(acme, standin):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        location = services.create_code_location(ctx=ctx, deployment=prod, name="shop")
        for asset, n in (("a", 40), ("b", 2)):
            DailyUsage.objects.create(
                organization=acme.organization,
                deployment=prod,
                code_location=location,
                asset_key=asset,
                day=DAY,
                credits=n,
            )
        account = stripe_sync.ensure_subscription(ctx=ctx, price="price_credits")
        with (
            mock.patch.object(stripe_sync.transaction, "atomic", side_effect=RuntimeError("down")),
            pytest.raises(RuntimeError),
        ):
            stripe_sync.report_day(ctx=ctx, day=DAY)  # sent, then the process "dies"
        assert not UsageReport.objects.exists()
        report = stripe_sync.report_day(ctx=ctx, day=DAY)  # the next loop resends
        assert report is not None and report.credits == 42
        assert stripe_sync.report_day(ctx=ctx, day=DAY) is None  # recorded: not sent again
    sent = [form for path, form in standin.requests if path == "/v1/billing/meter_events"]
    assert len(sent) == 2  # the resend happened...
    assert list(standin.meter_events.values()) == [  # ...and Stripe kept one event
        {
            "object": "billing.meter_event",
            "event_name": "assay_credits",
            "identifier": f"assay-{acme.organization.pk}-2026-06-01",
            "timestamp": 1_780_315_200,
            "payload": {"stripe_customer_id": account.stripe_customer_id, "value": "42"},
        }
    ]


def test_the_daemon_loop_reports_finished_days_once(acme, standin):
    from control_plane.daemon import all_loops

    (loop,) = [loop for loop in all_loops() if loop.name == "billing"]
    with tenant_context(acme.ctx()):
        stripe_sync.ensure_subscription(ctx=acme.ctx(), price="price_credits")
    assert stripe_sync.report_finished_days(today=date(2026, 6, 4)) == 3  # June 1st to 3rd
    assert stripe_sync.report_finished_days(today=date(2026, 6, 4)) == 0
    assert sorted(standin.meter_events) == [
        f"assay-{acme.organization.pk}-2026-06-0{d}" for d in (1, 2, 3)
    ]
    assert loop.run is stripe_sync.report_finished_days
