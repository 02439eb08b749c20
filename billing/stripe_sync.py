"""Stripe customers, subscriptions and usage reporting (the real ``stripe`` library).

Usage goes to Stripe as billing meter events, one per organization and finished UTC day,
with the identifier ``assay-<org>-<day>``: Stripe keeps one event per identifier, so a
report resent after a crash (sent, not yet recorded) is never counted twice. Customers and
subscriptions are created with idempotency keys derived from the organization for the
same reason.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import stripe
from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing.models import BillingAccount, DailyUsage, UsageReport
from billing.rollup import consistent_reads, pending_usage
from control_plane.core.context import Principal, TenantContext, tenant_context

METER_EVENT = "assay_credits"


def client() -> stripe.StripeClient:
    base = getattr(settings, "STRIPE_API_BASE", "")
    options = {"base_addresses": {"api": base}} if base else {}
    return stripe.StripeClient(settings.STRIPE_API_KEY, **options)  # type: ignore[arg-type]


def ensure_subscription(*, ctx: TenantContext, price: str) -> BillingAccount:
    """The organization's Stripe customer and metered subscription, created once."""
    org = ctx.organization
    account, _ = BillingAccount.objects.get_or_create(organization=org)
    api = client()
    if not account.stripe_customer_id:
        customer = api.v1.customers.create(
            params={"name": org.name, "metadata": {"assay_organization": org.slug}},
            options={"idempotency_key": f"assay-customer-{org.pk}"},
        )
        account.stripe_customer_id = customer.id
        account.save(update_fields=["stripe_customer_id"])
    if not account.stripe_subscription_id:
        subscription = api.v1.subscriptions.create(
            params={"customer": account.stripe_customer_id, "items": [{"price": price}]},
            options={"idempotency_key": f"assay-subscription-{org.pk}"},
        )
        account.stripe_subscription_id = subscription.id
        account.save(update_fields=["stripe_subscription_id"])
    return account


def report_day(*, ctx: TenantContext, day: date) -> UsageReport | None:
    """Report ``day``'s credits once; None when there is no customer or it was reported."""
    account = BillingAccount.objects.filter(organization=ctx.organization).first()
    if account is None or not account.stripe_customer_id:
        return None
    if UsageReport.objects.filter(day=day).exists():
        return None
    with consistent_reads():
        rolled = DailyUsage.objects.filter(day=day).aggregate(n=Sum("credits"))["n"] or 0
        pending = pending_usage(since=day)
    credits = rolled + sum(n for (*_, d), n in pending.items() if d == day)
    identifier = f"assay-{ctx.organization.pk}-{day.isoformat()}"
    client().v1.billing.meter_events.create(
        params={
            "event_name": METER_EVENT,
            "identifier": identifier,
            "timestamp": int(datetime.combine(day, time(12), tzinfo=UTC).timestamp()),
            "payload": {"stripe_customer_id": account.stripe_customer_id, "value": str(credits)},
        }
    )
    with transaction.atomic():
        report, _ = UsageReport.objects.get_or_create(
            organization=ctx.organization,
            day=day,
            defaults={"credits": credits, "identifier": identifier},
        )
    return report


REPORT_DAYS_BACK = 3  # a daemon down for a weekend still reports every finished day


def report_finished_days(*, today: date | None = None) -> int:
    """The daemon's loop: report each finished day not yet reported, for every organization
    with a Stripe customer (when Stripe is configured); returns how many were sent."""
    if not getattr(settings, "STRIPE_API_KEY", ""):
        return 0
    today = today or timezone.now().date()
    sent = 0
    accounts = (
        BillingAccount.objects.unscoped()
        .exclude(stripe_customer_id="")
        .select_related("organization")
    )
    for account in accounts:
        ctx = TenantContext(
            organization=account.organization, principal=Principal.system("billing")
        )
        with tenant_context(ctx):
            for back in range(REPORT_DAYS_BACK, 0, -1):
                if report_day(ctx=ctx, day=today - timedelta(days=back)) is not None:
                    sent += 1
    return sent
