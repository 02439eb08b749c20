"""Role grants: who may do what where; an organization keeps at least one Org Admin."""

from __future__ import annotations

from typing import Any, cast

from django.db import transaction

from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext
from control_plane.tenancy.errors import InvalidGrant, NotAllowed, ProtectedObject
from control_plane.tenancy.models import CodeLocation, Deployment, Membership, RoleGrant, Team, User
from control_plane.tenancy.permissions import (
    grant_role_to_guardian,
    is_allowed,
    is_allowed_role,
    revoke_role_from_guardian,
)
from control_plane.tenancy.roles import GRANTABLE_SCOPES, Action, Role
from control_plane.tenancy.services._shared import save_unique


def _grant_snapshot(grant: RoleGrant) -> dict[str, Any]:
    scope_obj = grant.code_location or grant.deployment or grant.organization
    grantee = grant.user.email if grant.user else f"team:{cast(Team, grant.team).name}"
    return {
        "role": Role(grant.role).slug,
        "grantee": grantee,
        "scope": grant.scope,
        "scope_name": str(scope_obj),
    }


def ensure_an_org_admin_remains(*, losing: RoleGrant | None = None, user: User | None = None):
    """Refuse a change that would leave the organization without a direct Org Admin."""
    admins = RoleGrant.objects.filter(
        role=Role.ORG_ADMIN, scope_key="organization", user__isnull=False
    ).select_for_update()
    if losing is not None:
        admins = admins.exclude(pk=losing.pk)
    if user is not None:
        admins = admins.exclude(user=user)
    if not admins.exists():
        raise ProtectedObject("an organization needs at least one Organization Admin")


def _authorize_grant(ctx: TenantContext, role: Role, scope_obj: Any) -> None:
    """Granting needs manage_grants there and at least the role being granted (no escalation)."""
    if not (
        is_allowed(ctx.principal, Action.MANAGE_GRANTS, scope_obj)
        and is_allowed_role(ctx.principal, role, scope_obj)
    ):
        raise NotAllowed(f"your role does not allow granting {role.label} here")


def create_grant(
    *,
    ctx: TenantContext,
    role: Role,
    membership: Membership | None = None,
    team: Team | None = None,
    deployment: Deployment | None = None,
    code_location: CodeLocation | None = None,
) -> RoleGrant:
    if (membership is None) == (team is None):
        raise InvalidGrant(fields={"member": ["Give exactly one of member or team."]})
    scope = "code_location" if code_location else "deployment" if deployment else "organization"
    if scope not in GRANTABLE_SCOPES[role]:
        raise InvalidGrant(
            fields={"role": [f"{role.label} can only be granted organization-wide."]}
        )
    if code_location is not None:
        deployment = None
    scope_obj = code_location or deployment or ctx.organization
    _authorize_grant(ctx, role, scope_obj)
    grant = RoleGrant(
        organization=ctx.organization,
        role=role,
        user=membership.user if membership else None,
        team=team,
        deployment=deployment,
        code_location=code_location,
        # exactly one of the two, checked above
        grantee_key=f"user:{membership.user_id}" if membership else f"team:{cast(Team, team).pk}",
        scope_key=scope if scope == "organization" else f"{scope}:{scope_obj.pk}",
    )
    with transaction.atomic():
        save_unique(grant, "this member or team already has a role here; change that grant")
        grant_role_to_guardian(grant)
        record_for(ctx, "grant.create", grant, after=_grant_snapshot(grant))
    return grant


def update_grant(*, ctx: TenantContext, grant: RoleGrant, role: Role) -> RoleGrant:
    scope_obj = grant.code_location or grant.deployment or grant.organization
    if grant.scope not in GRANTABLE_SCOPES[role]:
        raise InvalidGrant(
            fields={"role": [f"{role.label} can only be granted organization-wide."]}
        )
    _authorize_grant(ctx, max(role, Role(grant.role)), scope_obj)
    with transaction.atomic():
        if grant.role == Role.ORG_ADMIN and role != Role.ORG_ADMIN:
            ensure_an_org_admin_remains(losing=grant)
        before = _grant_snapshot(grant)
        grant.role = role
        grant.save()
        grant_role_to_guardian(grant)
        record_for(ctx, "grant.update", grant, before=before, after=_grant_snapshot(grant))
    return grant


def delete_grant(*, ctx: TenantContext, grant: RoleGrant) -> None:
    scope_obj = grant.code_location or grant.deployment or grant.organization
    _authorize_grant(ctx, Role(grant.role), scope_obj)
    with transaction.atomic():
        if grant.role == Role.ORG_ADMIN:
            ensure_an_org_admin_remains(losing=grant)
        record_for(ctx, "grant.delete", grant, before=_grant_snapshot(grant))
        revoke_role_from_guardian(grant)
        grant.delete()
