"""Users joining and leaving an organization."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.core import hooks
from control_plane.core.context import TenantContext
from control_plane.tenancy.models import ApiToken, Membership, RoleGrant, Team, User
from control_plane.tenancy.permissions import authorize, revoke_role_from_guardian
from control_plane.tenancy.roles import Action
from control_plane.tenancy.services._shared import save_unique
from control_plane.tenancy.services.grants import ensure_an_org_admin_remains


def get_or_create_user(*, email: str, name: str = "") -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, name=name)
    return user


def add_member(*, ctx: TenantContext, email: str, name: str = "") -> Membership:
    """Make the user with ``email`` (created when new, without a password) a member."""
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    with transaction.atomic():
        if not Membership.objects.filter(user__email__iexact=email).exists():
            hooks.check_limit(ctx, "member")
        user = get_or_create_user(email=email, name=name)
        membership = Membership(organization=ctx.organization, user=user)
        save_unique(membership, f"{user.email} is already a member")
        record_for(
            ctx, "member.add", ("member", membership.pk, user.email), after={"email": user.email}
        )
    return membership


def remove_member(*, ctx: TenantContext, membership: Membership) -> None:
    """Remove a member with their grants, team memberships and tokens in this organization."""
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    user = membership.user
    with transaction.atomic():
        ensure_an_org_admin_remains(user=user)
        for grant in RoleGrant.objects.filter(user=user).select_related(
            "organization", "deployment", "code_location", "user"
        ):
            revoke_role_from_guardian(grant)
            grant.delete()
        for team in Team.objects.filter(group__user=user).select_related("group"):
            team.group.user_set.remove(user)
        ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        record_for(
            ctx,
            "member.remove",
            ("member", membership.pk, user.email),
            before={"email": user.email},
        )
        membership.delete()
