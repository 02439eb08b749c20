"""The console's usage page, ``/o/<org>/billing/``: thin over ``billing.usage``."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe

from billing import services, stripe_webhooks, subscriptions
from billing.errors import StripeUnavailable
from billing.models import Plan
from billing.usage import chart_svg, usage
from control_plane.console.access import console_view
from control_plane.core.context import TenantContext
from control_plane.core.errors import AssayError
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action


@console_view()
def usage_page(request: HttpRequest, ctx: TenantContext) -> HttpResponse:
    """Usage and the bill; a POST of ``plan`` changes the plan (the service authorizes)."""
    if request.method == "POST":
        tier = request.POST.get("plan", "")
        try:
            if request.POST.get("action") == "subscribe":
                started = subscriptions.start_subscription(ctx=ctx, tier=tier)
                done = (
                    f"Subscribed to the {ctx.organization.plan} plan "
                    f"(Stripe subscription {started.stripe_subscription_id})."
                )
            else:
                services.change_plan(ctx=ctx, tier=tier)
                done = f"The plan is now {ctx.organization.plan}."
        except AssayError as error:
            messages.error(request, error.message)
        else:
            messages.success(request, done)
        return redirect("console:billing:usage", org=ctx.organization.slug)
    current = usage(ctx=ctx)
    invoices_error = ""
    try:
        invoices = subscriptions.invoices(ctx=ctx)
    except StripeUnavailable as error:
        invoices, invoices_error = [], error.message
    account = stripe_webhooks.account_of(ctx)
    return render(
        request,
        "billing/usage.html",
        {
            "usage": current,
            "chart": mark_safe(chart_svg(current.per_day)),  # built from dates and integers
            "plans": list(Plan.objects.all()),
            "account": account,
            "invoices": invoices,
            "invoices_error": invoices_error,
            "subscribable": [p for p in Plan.objects.all() if subscriptions.price_of(p.tier)],
            "grace_days": stripe_webhooks.grace_period().days,
            "can_change_plan": is_allowed(ctx.principal, Action.MANAGE_BILLING, ctx.organization),
        },
    )
