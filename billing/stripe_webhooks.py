"""Stripe webhooks: verified with ``stripe.Webhook.construct_event`` (signature and age),
each event id handled once, payment status kept on the organization's ``BillingAccount``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import stripe
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from billing import audit_actions
from billing.errors import PaymentPastDue
from billing.models import BillingAccount, StripeEvent
from control_plane.audit.services import record
from control_plane.console.banners import Banner
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import InvalidInput

_STATUS_OF_SUBSCRIPTION = {
    "active": BillingAccount.Status.ACTIVE,
    "trialing": BillingAccount.Status.ACTIVE,
    "past_due": BillingAccount.Status.PAST_DUE,
    "unpaid": BillingAccount.Status.PAST_DUE,
    "canceled": BillingAccount.Status.CANCELED,
}


def grace_period() -> timedelta:
    return timedelta(days=getattr(settings, "BILLING_PAST_DUE_GRACE_DAYS", 7))


def verify(payload: bytes, signature: str) -> dict[str, Any]:
    """The event as a dict, or ``InvalidInput`` for a forged, altered or stale (replayed) one."""
    secret = getattr(settings, "STRIPE_WEBHOOK_SECRET", "")
    if not secret:
        raise InvalidInput("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
    try:
        return stripe.Webhook.construct_event(payload, signature, secret).to_dict()
    except (ValueError, stripe.SignatureVerificationError):
        raise InvalidInput("the Stripe signature does not verify") from None


def _new_status(event: Any, account: BillingAccount) -> str | None:
    kind = event["type"]
    if kind == "invoice.paid":
        return BillingAccount.Status.ACTIVE
    if kind == "invoice.payment_failed":
        return BillingAccount.Status.PAST_DUE
    if kind == "customer.subscription.deleted":
        return BillingAccount.Status.CANCELED
    if kind == "customer.subscription.updated":
        return _STATUS_OF_SUBSCRIPTION.get(event["data"]["object"].get("status", ""))
    return None


def handle(event: Any) -> bool:
    """Apply a verified event once; False when its id was handled before (nothing changes)."""
    customer = event["data"]["object"].get("customer") or ""
    account = BillingAccount.objects.unscoped().filter(stripe_customer_id=customer).first()
    try:
        with transaction.atomic():
            StripeEvent.objects.create(
                event_id=event["id"],
                event_type=event["type"],
                organization_id=account.organization_id if account else None,
            )
            if account is not None:
                _apply(event, account)
    except IntegrityError:
        return False
    return True


def _apply(event: Any, account: BillingAccount) -> None:
    status = _new_status(event, account)
    if status is None or status == account.status:
        return
    before = account.status
    account.status = status
    if status == BillingAccount.Status.PAST_DUE:
        account.past_due_since = account.past_due_since or timezone.now()
    else:
        account.past_due_since = None
    account.updated_at = timezone.now()
    account.save()
    ctx = TenantContext(organization=account.organization, principal=Principal.system("stripe"))
    with tenant_context(ctx):
        record(
            actor=ctx.principal,
            action=audit_actions.PAYMENT_STATUS,
            target=account.organization,
            organization=account.organization,
            before={"status": before},
            after={"status": status, "stripe_event": event["id"]},
        )


def account_of(ctx: TenantContext) -> BillingAccount | None:
    return BillingAccount.objects.filter(organization=ctx.organization).first()


def past_due_banner(ctx: TenantContext) -> Banner | None:
    """The console-wide notice while payment is past due (``console.banners``)."""
    account = account_of(ctx)
    if account is None or account.status != BillingAccount.Status.PAST_DUE:
        return None
    since = account.past_due_since or timezone.now()
    days = grace_period().days
    over = timezone.now() - since > grace_period()
    consequence = (
        "the grace period is over: runs can no longer be launched"
        if over
        else f"after a {days}-day grace period, runs can no longer be launched"
    )
    return Banner(
        key="past-due",
        text=f"Payment is past due since {since:%Y-%m-%d}; {consequence}. Please pay the open "
        "invoice.",
        url=reverse("console:billing:usage", kwargs={"org": ctx.organization.slug}),
        link_text="Usage and billing",
    )


def check_launch(ctx: TenantContext) -> None:
    """Refuse launches once an organization has been past due longer than the grace period."""
    account = account_of(ctx)
    if account is None or account.status != BillingAccount.Status.PAST_DUE:
        return
    since = account.past_due_since or timezone.now()
    if timezone.now() - since > grace_period():
        raise PaymentPastDue(
            f"payment for this organization has been past due since {since:%Y-%m-%d} and the "
            f"{grace_period().days}-day grace period is over: launches are refused until "
            "the invoice is paid"
        )
