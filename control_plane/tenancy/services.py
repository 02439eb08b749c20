"""Every state change of the tenancy app. Each runs in one transaction and writes its audit row.

Services take the request's ``TenantContext`` (``ctx``) and authorize the principal
themselves, so the REST API, management commands and later adapters share the rules.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.audit.services import record
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy import tokens
from control_plane.tenancy.errors import (
    AlreadyInTeam,
    DuplicateName,
    InvalidGrant,
    InvalidToken,
    NotAllowed,
    ObjectNotFound,
    ProtectedObject,
)
from control_plane.tenancy.models import (
    ApiToken,
    CodeLocation,
    Deployment,
    Membership,
    Organization,
    RoleGrant,
    Team,
    User,
)
from control_plane.tenancy.permissions import (
    authorize,
    forget_object_permissions,
    grant_role_to_guardian,
    is_allowed,
    is_allowed_role,
    revoke_role_from_guardian,
)
from control_plane.tenancy.roles import GRANTABLE_SCOPES, Action, Role
from control_plane.tenancy.validation import (
    EMAIL,
    ORGANIZATION_NAME_MAX,
    ORGANIZATION_SLUG_MAX,
    SLUG_RULE,
    TOKEN_NAME_MAX,
    check,
    required_text,
)

logger = logging.getLogger(__name__)


def _snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def _audit(ctx: TenantContext, action: str, target: Any, *, before=None, after=None) -> None:
    record(
        actor=ctx.principal,
        action=action,
        target=target,
        organization=ctx.organization,
        before=before,
        after=after,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )


def _save_unique(obj: Any, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise DuplicateName(message) from exc


# Organizations -------------------------------------------------------------------------

ORGANIZATION_FIELDS = ("slug", "name", "plan")


def create_organization(
    *, actor: Principal, slug: str, name: str, admin_email: str, plan: str = "starter"
) -> Organization:
    """A new organization with its ``prod`` deployment and ``admin_email`` as Org Admin."""
    check(
        slug=(slug, required_text(ORGANIZATION_SLUG_MAX, SLUG_RULE)),
        name=(name, required_text(ORGANIZATION_NAME_MAX)),
        admin_email=(admin_email, EMAIL),
    )
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise DuplicateName(f"an organization with slug {slug!r} already exists")
        organization = Organization(slug=slug, name=name, plan=plan)
        _save_unique(organization, f"an organization with slug {slug!r} already exists")
        ctx = TenantContext(organization=organization, principal=actor)
        with tenant_context(ctx):
            Deployment.objects.create(
                organization=organization, name="prod", kind=Deployment.Kind.PROD
            )
            user = get_or_create_user(email=admin_email)
            Membership.objects.create(organization=organization, user=user)
            grant = RoleGrant.objects.create(
                organization=organization,
                role=Role.ORG_ADMIN,
                user=user,
                grantee_key=f"user:{user.pk}",
                scope_key="organization",
            )
            grant_role_to_guardian(grant)
            _audit(
                ctx,
                "organization.create",
                organization,
                after={**_snapshot(organization, ORGANIZATION_FIELDS), "admin": user.email},
            )
    return organization


def update_organization(*, ctx: TenantContext, name: str | None = None) -> Organization:
    organization = ctx.organization
    authorize(ctx.principal, Action.MANAGE_MEMBERS, organization)
    with transaction.atomic():
        before = _snapshot(organization, ORGANIZATION_FIELDS)
        if name is not None:
            organization.name = name
        organization.save()
        _audit(
            ctx,
            "organization.update",
            organization,
            before=before,
            after=_snapshot(organization, ORGANIZATION_FIELDS),
        )
    return organization


# Deployments ---------------------------------------------------------------------------

DEPLOYMENT_FIELDS = ("name", "kind", "max_concurrent_runs", "run_tag_limits")


def create_deployment(
    *, ctx: TenantContext, name: str, max_concurrent_runs: int | None = None
) -> Deployment:
    """A branch deployment (``prod`` exists from the organization's creation)."""
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, ctx.organization)
    with transaction.atomic():
        deployment = Deployment(organization=ctx.organization, name=name, kind="branch")
        if max_concurrent_runs is not None:
            deployment.max_concurrent_runs = max_concurrent_runs
        _save_unique(deployment, f"a deployment named {name!r} already exists")
        _audit(ctx, "deployment.create", deployment, after=_snapshot(deployment, DEPLOYMENT_FIELDS))
    return deployment


def update_deployment(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    max_concurrent_runs: int | None = None,
    run_tag_limits: list[dict[str, Any]] | None = None,
) -> Deployment:
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, deployment)
    with transaction.atomic():
        before = _snapshot(deployment, DEPLOYMENT_FIELDS)
        if max_concurrent_runs is not None:
            deployment.max_concurrent_runs = max_concurrent_runs
        if run_tag_limits is not None:
            deployment.run_tag_limits = run_tag_limits
        deployment.save()
        _audit(
            ctx,
            "deployment.update",
            deployment,
            before=before,
            after=_snapshot(deployment, DEPLOYMENT_FIELDS),
        )
    return deployment


def delete_deployment(*, ctx: TenantContext, deployment: Deployment) -> None:
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, deployment)
    if deployment.kind == Deployment.Kind.PROD:
        raise ProtectedObject("the prod deployment cannot be deleted")
    with transaction.atomic():
        before = _snapshot(deployment, DEPLOYMENT_FIELDS)
        _audit(ctx, "deployment.delete", deployment, before=before)
        # Tokens narrowed to it go with it: revoke each first, so the audit log says so.
        for token in ApiToken.objects.filter(deployment=deployment, revoked_at__isnull=True):
            revoke_token(ctx=ctx, token=token)
        forget_object_permissions(
            [deployment, *CodeLocation.objects.filter(deployment=deployment).only("pk")]
        )
        deployment.delete()


# Code locations ------------------------------------------------------------------------

CODE_LOCATION_FIELDS = ("name", "module")


def create_code_location(
    *, ctx: TenantContext, deployment: Deployment, name: str, module: str = ""
) -> CodeLocation:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, deployment)
    with transaction.atomic():
        location = CodeLocation(
            organization=ctx.organization, deployment=deployment, name=name, module=module
        )
        _save_unique(location, f"a code location named {name!r} already exists in {deployment}")
        _audit(
            ctx,
            "code_location.create",
            location,
            after={**_snapshot(location, CODE_LOCATION_FIELDS), "deployment": deployment.name},
        )
    return location


def update_code_location(
    *, ctx: TenantContext, location: CodeLocation, module: str | None = None
) -> CodeLocation:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, location)
    with transaction.atomic():
        before = _snapshot(location, CODE_LOCATION_FIELDS)
        if module is not None:
            location.module = module
        location.updated_at = timezone.now()
        location.save()
        _audit(
            ctx,
            "code_location.update",
            location,
            before=before,
            after=_snapshot(location, CODE_LOCATION_FIELDS),
        )
    return location


def delete_code_location(*, ctx: TenantContext, location: CodeLocation) -> None:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, location)
    with transaction.atomic():
        _audit(
            ctx, "code_location.delete", location, before=_snapshot(location, CODE_LOCATION_FIELDS)
        )
        forget_object_permissions([location])
        location.delete()


# Members -------------------------------------------------------------------------------


def get_or_create_user(*, email: str, name: str = "") -> User:
    user = User.objects.filter(email__iexact=email).first()
    if user is None:
        user = User.objects.create_user(email=email, name=name)
    return user


def add_member(*, ctx: TenantContext, email: str, name: str = "") -> Membership:
    """Make the user with ``email`` (created when new, without a password) a member."""
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    with transaction.atomic():
        user = get_or_create_user(email=email, name=name)
        membership = Membership(organization=ctx.organization, user=user)
        _save_unique(membership, f"{user.email} is already a member")
        _audit(
            ctx, "member.add", ("member", membership.pk, user.email), after={"email": user.email}
        )
    return membership


def remove_member(*, ctx: TenantContext, membership: Membership) -> None:
    """Remove a member with their grants, team memberships and tokens in this organization."""
    authorize(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization)
    user = membership.user
    with transaction.atomic():
        _ensure_an_org_admin_remains(user=user)
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
        _audit(
            ctx,
            "member.remove",
            ("member", membership.pk, user.email),
            before={"email": user.email},
        )
        membership.delete()


# Teams ---------------------------------------------------------------------------------


def create_team(*, ctx: TenantContext, name: str) -> Team:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if Team.objects.filter(name=name).exists():
            raise DuplicateName(f"a team named {name!r} already exists")
        group = Group.objects.create(name=f"org{ctx.organization.pk}:{name}")
        team = Team(organization=ctx.organization, name=name, group=group)
        _save_unique(team, f"a team named {name!r} already exists")
        _audit(ctx, "team.create", team, after={"name": name})
    return team


def update_team(*, ctx: TenantContext, team: Team, name: str) -> Team:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        before = {"name": team.name}
        team.name = name
        _save_unique(team, f"a team named {name!r} already exists")
        team.group.name = f"org{ctx.organization.pk}:{name}"
        team.group.save()
        _audit(ctx, "team.update", team, before=before, after={"name": name})
    return team


def delete_team(*, ctx: TenantContext, team: Team) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        for grant in RoleGrant.objects.filter(team=team).select_related(
            "organization", "deployment", "code_location", "team__group"
        ):
            revoke_role_from_guardian(grant)
            grant.delete()
        _audit(ctx, "team.delete", team, before={"name": team.name})
        group = team.group
        team.delete()
        group.delete()


def add_team_member(*, ctx: TenantContext, team: Team, membership: Membership) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if team.group.user_set.filter(pk=membership.user_id).exists():
            raise AlreadyInTeam(f"{membership.user.email} is already in team {team.name!r}")
        team.group.user_set.add(membership.user)
        _audit(ctx, "team.member_add", team, after={"member": membership.user.email})


def remove_team_member(*, ctx: TenantContext, team: Team, membership: Membership) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if not team.group.user_set.filter(pk=membership.user_id).exists():
            raise ObjectNotFound(f"{membership.user.email} is not in team {team.name!r}")
        team.group.user_set.remove(membership.user)
        _audit(ctx, "team.member_remove", team, before={"member": membership.user.email})


# Role grants ---------------------------------------------------------------------------


def _grant_snapshot(grant: RoleGrant) -> dict[str, Any]:
    scope_obj = grant.code_location or grant.deployment or grant.organization
    grantee = grant.user.email if grant.user_id else f"team:{grant.team.name}"
    return {
        "role": Role(grant.role).slug,
        "grantee": grantee,
        "scope": grant.scope,
        "scope_name": str(scope_obj),
    }


def _ensure_an_org_admin_remains(*, losing: RoleGrant | None = None, user: User | None = None):
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
        grantee_key=f"user:{membership.user_id}" if membership else f"team:{team.pk}",
        scope_key=scope if scope == "organization" else f"{scope}:{scope_obj.pk}",
    )
    with transaction.atomic():
        _save_unique(grant, "this member or team already has a role here; change that grant")
        grant_role_to_guardian(grant)
        _audit(ctx, "grant.create", grant, after=_grant_snapshot(grant))
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
            _ensure_an_org_admin_remains(losing=grant)
        before = _grant_snapshot(grant)
        grant.role = role
        grant.save()
        grant_role_to_guardian(grant)
        _audit(ctx, "grant.update", grant, before=before, after=_grant_snapshot(grant))
    return grant


def delete_grant(*, ctx: TenantContext, grant: RoleGrant) -> None:
    scope_obj = grant.code_location or grant.deployment or grant.organization
    _authorize_grant(ctx, Role(grant.role), scope_obj)
    with transaction.atomic():
        if grant.role == Role.ORG_ADMIN:
            _ensure_an_org_admin_remains(losing=grant)
        _audit(ctx, "grant.delete", grant, before=_grant_snapshot(grant))
        revoke_role_from_guardian(grant)
        grant.delete()


# Tokens --------------------------------------------------------------------------------


def _token_snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "kind": token.kind,
        "name": token.name,
        "prefix_id": token.prefix_id,
        "owner": token.user.email if token.user_id else None,
        "deployment": token.deployment.name if token.deployment_id else None,
        "max_role": Role(token.max_role).slug if token.max_role else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


def _ensure_no_wider_than_calling_token(
    caller: ApiToken | None,
    *,
    deployments: list[Deployment | None],
    max_role: Role | None,
    expires_at: datetime | None,
    capped: bool = True,
) -> None:
    """A token may create tokens only within its own limits, so a leaked narrowed token
    cannot mint a wider one: every deployment the new token reaches (``None``: all of them),
    its role cap (unless it has none by nature, ``capped=False``: agent tokens) and its
    expiry are at most the caller's."""
    if caller is None:
        return
    if caller.deployment_id is not None and any(
        deployment is None or deployment.pk != caller.deployment_id for deployment in deployments
    ):
        raise NotAllowed("a token narrowed to a deployment can only create tokens narrowed to it")
    if capped and caller.max_role is not None and (max_role is None or max_role > caller.max_role):
        raise NotAllowed(
            f"a token capped at {Role(caller.max_role).label} can only create tokens capped "
            "at that role or lower"
        )
    if caller.expires_at is not None and (expires_at is None or expires_at > caller.expires_at):
        raise NotAllowed("a token with an expiry can only create tokens that expire no later")


def create_user_token(
    *,
    ctx: TenantContext,
    name: str,
    user: User | None = None,
    deployment: Deployment | None = None,
    max_role: Role | None = None,
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A token acting as ``user`` (default: the caller), optionally narrowed. Returns the
    row and the secret, which is shown once and never stored."""
    owner = user or ctx.principal.user
    if owner is None:
        raise InvalidGrant(fields={"user": ["A user token needs an owner."]})
    if owner != ctx.principal.user and not ctx.principal.is_system:
        # A token acts as its owner: minting one for someone else would be impersonation.
        raise NotAllowed("only an operator can create a token for another user")
    check(name=(name, required_text(TOKEN_NAME_MAX)))
    if not Membership.objects.filter(user=owner).exists():
        raise InvalidGrant(fields={"user": ["The owner is not a member of this organization."]})
    if deployment is not None and deployment.organization_id != ctx.organization.pk:
        raise InvalidGrant(fields={"deployment": ["Not a deployment of this organization."]})
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidGrant(fields={"expires_at": ["Must be in the future."]})
    _ensure_no_wider_than_calling_token(
        ctx.principal.token, deployments=[deployment], max_role=max_role, expires_at=expires_at
    )
    prefix_id, secret = tokens.generate(ApiToken.Kind.USER)
    token = ApiToken(
        organization=ctx.organization,
        kind=ApiToken.Kind.USER,
        name=name,
        prefix_id=prefix_id,
        secret_hash=tokens.hash_token(secret),
        user=owner,
        created_by=ctx.principal.user,
        deployment=deployment,
        max_role=max_role,
        expires_at=expires_at,
    )
    with transaction.atomic():
        token.save()
        _audit(ctx, "token.create", token, after=_token_snapshot(token))
    return token, secret


def create_agent_token(
    *,
    ctx: TenantContext,
    name: str,
    deployments: list[Deployment],
    expires_at: datetime | None = None,
) -> tuple[ApiToken, str]:
    """A token for an agent serving ``deployments`` of this organization."""
    authorize(ctx.principal, Action.MANAGE_TOKENS, ctx.organization)
    check(name=(name, required_text(TOKEN_NAME_MAX)))
    if any(d.organization_id != ctx.organization.pk for d in deployments):
        raise InvalidGrant(fields={"deployments": ["Not a deployment of this organization."]})
    if not deployments:
        raise InvalidGrant(
            fields={"deployments": ["An agent token needs at least one deployment."]}
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise InvalidGrant(fields={"expires_at": ["Must be in the future."]})
    _ensure_no_wider_than_calling_token(
        ctx.principal.token,
        deployments=list(deployments),
        max_role=None,
        expires_at=expires_at,
        capped=False,  # an agent token acts as no role: MANAGE_TOKENS above bounds the caller
    )
    prefix_id, secret = tokens.generate(ApiToken.Kind.AGENT)
    token = ApiToken(
        organization=ctx.organization,
        kind=ApiToken.Kind.AGENT,
        name=name,
        prefix_id=prefix_id,
        secret_hash=tokens.hash_token(secret),
        created_by=ctx.principal.user,
        expires_at=expires_at,
    )
    with transaction.atomic():
        token.save()
        token.deployments.set(deployments)
        _audit(
            ctx,
            "token.create",
            token,
            after={**_token_snapshot(token), "deployments": sorted(d.name for d in deployments)},
        )
    return token, secret


def revoke_token(*, ctx: TenantContext, token: ApiToken) -> ApiToken:
    """Revoke ``token``. A calling token reaches only tokens within its own limits (as for
    creating them), so a leaked narrowed token cannot revoke its owner's wider ones."""
    if not (ctx.principal.user is not None and token.user_id == ctx.principal.user.pk):
        authorize(ctx.principal, Action.MANAGE_TOKENS, ctx.organization)
    caller = ctx.principal.token
    if caller is not None and caller.pk != token.pk:
        is_agent = token.kind == ApiToken.Kind.AGENT
        _ensure_no_wider_than_calling_token(
            caller,
            deployments=list(token.deployments.all()) if is_agent else [token.deployment],
            max_role=None if is_agent else _role_or_none(token.max_role),
            expires_at=token.expires_at,
            capped=not is_agent,
        )
    if token.is_revoked:
        return token
    with transaction.atomic():
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        _audit(
            ctx,
            "token.revoke",
            token,
            before={"revoked": False},
            after={"revoked": True, **_token_snapshot(token)},
        )
    return token


def token_with_prefix(prefix: str) -> ApiToken | None:
    """The token a presented secret claims to be (authentication precedes any tenant)."""
    return (
        ApiToken.objects.unscoped().select_related("organization").filter(prefix_id=prefix).first()
    )


def record_rate_limited(*, token: ApiToken | None, ip: str | None, user_agent: str) -> None:
    """Audit failed authentications reaching the limit: in the organization of the token
    they aimed at; guesses at no real token belong to no organization and are logged."""
    if token is None:
        logger.warning("API authentication failures from %s reached the limit", ip)
        return
    with transaction.atomic():
        record(
            actor=Principal(kind="anonymous", label=f"client {ip or 'unknown'}"),
            action="token.rate_limited",
            target=token,
            organization=token.organization,
            after={"prefix_id": token.prefix_id},
            ip=ip,
            user_agent=user_agent,
        )


def _role_or_none(value: int | None) -> Role | None:
    return Role(value) if value is not None else None


def record_rejected_token(*, error: InvalidToken, ip: str | None, user_agent: str) -> None:
    """Audit a revoked or expired token being presented (unknown tokens have no organization)."""
    token = error.token
    if token is None:
        return
    actor = (
        Principal.for_user(token.user) if token.user_id else Principal(kind="agent", token=token)
    )
    if not actor.label:
        actor.label = f"agent token {token.prefix_id}"
    with transaction.atomic():
        record(
            actor=actor,
            action="token.rejected",
            target=token,
            organization=token.organization,
            after={"reason": str(error), "prefix_id": token.prefix_id},
            ip=ip,
            user_agent=user_agent,
        )
