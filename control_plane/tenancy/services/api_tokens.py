"""API tokens: user and agent tokens, revoking, and recording rejected ones."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record, record_for
from control_plane.core.context import Principal, TenantContext
from control_plane.tenancy import tokens
from control_plane.tenancy.errors import InvalidGrant, InvalidToken, NotAllowed
from control_plane.tenancy.models import ApiToken, Deployment, Membership, User
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action, Role
from control_plane.tenancy.validation import TOKEN_NAME_MAX, check, required_text

logger = logging.getLogger(__name__)


def _token_snapshot(token: ApiToken) -> dict[str, Any]:
    return {
        "kind": token.kind,
        "name": token.name,
        "prefix_id": token.prefix_id,
        "owner": token.user.email if token.user else None,
        "deployment": token.deployment.name if token.deployment else None,
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
        record_for(ctx, "token.create", token, after=_token_snapshot(token))
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
        record_for(
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
        record_for(
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
