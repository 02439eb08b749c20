"""Billing state changes; each runs in one transaction and writes its audit row."""

from __future__ import annotations

from django.db import transaction

from billing import audit_actions
from billing.errors import PlanLimitReached
from billing.limits import current_use
from billing.models import Plan
from billing.plans import ensure_catalogue
from control_plane.audit.services import record
from control_plane.core import wakeups
from control_plane.core.context import TenantContext
from control_plane.core.errors import InvalidInput
from control_plane.tenancy.models import Organization
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


def change_plan(*, ctx: TenantContext, tier: str) -> Organization:
    """Move the organization to ``tier`` (Org Admins). Refused when the organization already
    uses more than the new plan allows, so no limit is ever exceeded by a downgrade."""
    authorize(ctx.principal, Action.MANAGE_BILLING, ctx.organization)
    ensure_catalogue()
    plan = Plan.objects.filter(tier=tier).first()
    if plan is None:
        tiers = ", ".join(Plan.objects.values_list("tier", flat=True))
        raise InvalidInput(
            f"no plan {tier!r}; choose one of {tiers}", fields={"plan": [f"Choose one of {tiers}."]}
        )
    with transaction.atomic():
        organization = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
        use = current_use()
        for limit, used, what in (
            (plan.user_limit, use["users"], ("user", "users")),
            (plan.code_location_limit, use["code_locations"], ("code location", "code locations")),
        ):
            if limit is not None and used > limit:
                raise PlanLimitReached(
                    f"the {plan.name} plan allows {limit} {what[limit != 1]} and this "
                    f"organization has "
                    f"{used}; remove some before changing to {plan.name}"
                )
        before = organization.plan
        organization.plan = plan.tier
        organization.save(update_fields=["plan"])
        wakeups.wake_dequeuer()  # runs held queued are looked at again
        ctx.organization.plan = plan.tier
        record(
            actor=ctx.principal,
            action=audit_actions.PLAN_CHANGE,
            target=organization,
            organization=organization,
            before={"plan": before},
            after={"plan": plan.tier},
            ip=ctx.ip,
            user_agent=ctx.user_agent,
        )
    return organization
