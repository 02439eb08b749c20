"""Plan limits, enforced where the action happens (tenancy calls ``check_limit`` through
``core.hooks`` inside its own transaction, before it creates anything)."""

from __future__ import annotations

from django.utils import timezone

from billing.errors import PlanLimitReached
from billing.plans import plan_of
from control_plane.core.context import TenantContext
from control_plane.identity.models import Invitation
from control_plane.tenancy.models import CodeLocation, Membership, Organization

_USER = ("user", "users")
_WHAT = {"member": _USER, "invitation": _USER, "code_location": ("code location", "code locations")}


def _pending_invitations(except_email: str) -> int:
    """Invitations that still hold a seat (a new one for the same email replaces its own)."""
    return (
        Invitation.objects.filter(status=Invitation.Status.PENDING, expires_at__gt=timezone.now())
        .exclude(email__iexact=except_email)
        .count()
    )


def check_limit(ctx: TenantContext, kind: str, name: str = "") -> None:
    """Refuse a new member, invitation or code location beyond the plan's limit, naming both.

    A pending invitation holds a seat. The organization row is locked first, so two
    concurrent invitations cannot both take the last seat.
    """
    if kind not in _WHAT:
        return
    organization = Organization.objects.select_for_update().get(pk=ctx.organization.pk)
    plan = plan_of(organization)
    if kind == "invitation":
        limit, used = plan.user_limit, Membership.objects.count() + _pending_invitations(name)
    elif kind == "member":
        limit, used = plan.user_limit, Membership.objects.count()
    else:
        limit, used = plan.code_location_limit, CodeLocation.objects.count()
    if limit is not None and used >= limit:
        one, many = _WHAT[kind]
        counted = " (pending invitations included)" if kind == "invitation" else ""
        raise PlanLimitReached(
            f"the {plan.name} plan allows {limit} {one if limit == 1 else many} and this "
            f"organization has {used}{counted}; upgrade the plan to add another {one}"
        )


def current_use() -> dict[str, int]:
    """Members and code locations in the current organization (for the usage page)."""
    return {"users": Membership.objects.count(), "code_locations": CodeLocation.objects.count()}
