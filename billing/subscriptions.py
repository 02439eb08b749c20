"""Starting a subscription from the console or the API, and the organization's invoices.

An Org Admin chooses a plan with a list price (Solo, Starter); the plan changes (its limits
checked), then ``stripe_sync.ensure_subscription`` creates the Stripe customer and the
subscription to that plan's price (idempotency keys per organization, so a retry after a
failure creates nothing twice). Pro and Enterprise are priced by contract: no self-serve
subscription. Invoices are read from Stripe when the usage page is shown; Stripe being
unreachable is said on the page, never a 500.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import stripe
from django.conf import settings
from django.db import transaction

from billing import audit_actions, services, stripe_sync
from billing.errors import StripeUnavailable
from billing.models import BillingAccount
from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext
from control_plane.core.errors import InvalidInput
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

INVOICES_SHOWN = 12


def price_of(tier: str) -> str:
    """The Stripe price of ``tier`` (``STRIPE_PRICE_IDS``), or "" for a contract plan."""
    return dict(getattr(settings, "STRIPE_PRICE_IDS", {})).get(tier, "")


def start_subscription(*, ctx: TenantContext, tier: str) -> BillingAccount:
    """Move to ``tier`` and subscribe to it in Stripe (Org Admins); audited."""
    authorize(ctx.principal, Action.MANAGE_BILLING, ctx.organization)
    if not getattr(settings, "STRIPE_API_KEY", ""):
        raise InvalidInput("Stripe is not configured on this control plane (STRIPE_API_KEY)")
    price = price_of(tier)
    if not price:
        raise InvalidInput(
            f"the {tier!r} plan has no self-serve subscription (priced by contract, or no "
            "Stripe price in STRIPE_PRICE_IDS): contact sales",
            fields={"plan": ["No Stripe price for this plan."]},
        )
    with transaction.atomic():
        services.change_plan(ctx=ctx, tier=tier)  # limits checked, audited, or nothing
        try:
            account = stripe_sync.ensure_subscription(ctx=ctx, price=price)
        except stripe.StripeError as error:
            raise StripeUnavailable(f"Stripe refused the subscription: {error}") from None
        record_for(
            ctx,
            audit_actions.SUBSCRIPTION_START,
            ctx.organization,
            after={
                "plan": tier,
                "stripe_customer": account.stripe_customer_id,
                "stripe_subscription": account.stripe_subscription_id,
            },
        )
    return account


@dataclass(frozen=True)
class Invoice:
    number: str
    status: str
    total: str  # "123.45 USD"
    created: datetime
    url: str


def invoices(*, ctx: TenantContext) -> list[Invoice]:
    """The organization's latest invoices from Stripe (none without a customer)."""
    account = BillingAccount.objects.filter(organization=ctx.organization).first()
    if account is None or not account.stripe_customer_id:
        return []
    try:
        listed = stripe_sync.client().v1.invoices.list(
            params={"customer": account.stripe_customer_id, "limit": INVOICES_SHOWN}
        )
    except stripe.StripeError as error:
        raise StripeUnavailable(f"Stripe did not answer: {error}") from None
    found = []
    for listed_item in listed.data:
        item = listed_item.to_dict()
        cents = int(item.get("total") or 0)
        found.append(
            Invoice(
                number=str(item.get("number") or item.get("id")),
                status=str(item.get("status") or ""),
                total=f"{cents / 100:.2f} {str(item.get('currency') or 'usd').upper()}",
                created=datetime.fromtimestamp(int(item.get("created") or 0), tz=UTC),
                url=str(item.get("hosted_invoice_url") or ""),
            )
        )
    return found
