"""Teams with default roles: a team's members get a role on every production deployment
and another on every branch deployment, including deployments made later.

A default is applied as ordinary team grants on each deployment of its kind, so the
permission checks stay what they are (guardian lookups; the highest of a member's direct
and team grants wins). An explicit team grant on a deployment beats the default there: a
deployment where the team already had a grant is skipped, and a default grant whose role
someone changed since is left alone from then on.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import InvalidInput
from control_plane.sso import audit_actions
from control_plane.sso.models import DefaultRoleGrant, TeamDefaultRole
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.models import Deployment, RoleGrant, Team
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import GRANTABLE_SCOPES, Action, Role

KINDS = tuple(Deployment.Kind.values)  # "prod", "branch"


def default_roles(team: Team) -> dict[str, Role | None]:
    """The team's default role per deployment kind (None: no default)."""
    found = {d.deployment_kind: Role(d.role) for d in TeamDefaultRole.objects.filter(team=team)}
    return {kind: found.get(kind) for kind in KINDS}


def _apply(ctx: TenantContext, default: TeamDefaultRole | None, team: Team, deployment) -> None:
    """Make ``team``'s grant on ``deployment`` follow ``default`` (None: drop it), unless
    that grant is explicit."""
    grant = (
        RoleGrant.objects.select_related("team__group", "deployment", "organization")
        .filter(team=team, deployment=deployment, code_location__isnull=True)
        .first()
    )
    derived = grant and DefaultRoleGrant.objects.filter(grant=grant).first()
    if grant is not None and (derived is None or derived.role != grant.role):
        if derived is not None:
            derived.delete()  # changed by hand since: explicit from now on
        return
    if default is None:
        if grant is not None:
            tenancy.delete_grant(ctx=ctx, grant=grant)
        return
    role = Role(default.role)
    if grant is None:
        grant = tenancy.create_grant(ctx=ctx, role=role, team=team, deployment=deployment)
        DefaultRoleGrant.objects.create(
            organization=ctx.organization, default=default, grant=grant, role=role
        )
    elif grant.role != role:
        tenancy.update_grant(ctx=ctx, grant=grant, role=role)
        assert derived
        derived.default, derived.role = default, role
        derived.save()


def set_default_role(
    *, ctx: TenantContext, team: Team, deployment_kind: str, role: Role | None
) -> TeamDefaultRole | None:
    """Give (or with ``None`` take away) ``team``'s default role on ``deployment_kind``
    deployments. Needs ``manage_teams`` and the right to grant ``role`` on each of them
    (no escalation). Audited with before and after."""
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    if deployment_kind not in KINDS:
        raise InvalidInput(f"deployment kind is one of {', '.join(KINDS)}")
    if role is not None and "deployment" not in GRANTABLE_SCOPES[role]:
        raise InvalidInput(f"{role.label} can only be granted organization-wide")
    with transaction.atomic():
        current = TeamDefaultRole.objects.filter(team=team, deployment_kind=deployment_kind)
        default = current.select_for_update().first()
        before = Role(default.role).slug if default else None
        if role is None:
            for deployment in Deployment.objects.filter(kind=deployment_kind):
                _apply(ctx, None, team, deployment)
            if default is not None:
                default.delete()
            default = None
        else:
            if default is None:
                default = TeamDefaultRole(
                    organization=ctx.organization, team=team, deployment_kind=deployment_kind
                )
            default.role, default.updated_at = role, timezone.now()
            default.save()
            for deployment in Deployment.objects.filter(kind=deployment_kind):
                _apply(ctx, default, team, deployment)
        record_for(
            ctx,
            audit_actions.TEAM_DEFAULT_ROLE,
            team,
            before={"deployment_kind": deployment_kind, "role": before},
            after={"deployment_kind": deployment_kind, "role": role.slug if role else None},
        )
    return default


@receiver(post_save, sender=Deployment, dispatch_uid="sso_team_default_roles")
def _new_deployment(sender, instance: Deployment, created: bool, raw: bool = False, **kwargs):
    """A new deployment gets every team default of its kind (made by the system, audited)."""
    if not created or raw:
        return
    ctx = TenantContext(
        organization=instance.organization, principal=Principal.system("team default roles")
    )
    with tenant_context(ctx):
        for default in TeamDefaultRole.objects.filter(deployment_kind=instance.kind).select_related(
            "team__group"
        ):
            _apply(ctx, default, default.team, instance)
