"""State changes of SSO: SAML settings, just-in-time provisioning at sign-in, SCIM tokens,
and the question the password sign-in asks (``sso_required_for``)."""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
from urllib.parse import urlparse

from cryptography import x509
from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext, tenant_context
from control_plane.core.errors import NotFound
from control_plane.sso import audit_actions
from control_plane.sso.errors import InvalidSamlConfig
from control_plane.sso.models import SamlConfig, ScimToken
from control_plane.sso.saml import SamlIdentity, system_ctx
from control_plane.tenancy import services as tenancy
from control_plane.tenancy import tokens
from control_plane.tenancy.models import Membership, Organization, RoleGrant, Team, User
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action, Role

CONFIG_FIELDS = (
    "enabled",
    "idp_entity_id",
    "idp_sso_url",
    "idp_x509_cert",
    "attribute_mapping",
    "default_role",
    "sso_required",
)
MAPPING_KEYS = {"email", "first_name", "last_name", "groups"}
SCIM_TOKEN_PREFIX = "assay_s_"  # its own kind: the REST API and the agent refuse it


def _config_snapshot(config: SamlConfig) -> dict:
    snapshot = {name: getattr(config, name) for name in CONFIG_FIELDS}
    snapshot["idp_x509_cert"] = bool(config.idp_x509_cert)  # long; its presence is enough
    snapshot["default_role"] = Role(config.default_role).slug
    return snapshot


def get_config(ctx: TenantContext) -> SamlConfig:
    config = SamlConfig.objects.filter().first()
    return config or SamlConfig(organization=ctx.organization)


def update_config(*, ctx: TenantContext, **changes) -> SamlConfig:
    """Change the organization's SAML settings (Org Admin: ``manage_sso``)."""
    authorize(ctx.principal, Action.MANAGE_SSO, ctx.organization)
    unknown = set(changes) - set(CONFIG_FIELDS)
    if unknown:
        raise InvalidSamlConfig(f"unknown settings: {', '.join(sorted(unknown))}")
    mapping = changes.get("attribute_mapping")
    if mapping is not None and (
        not isinstance(mapping, dict)
        or set(mapping) - MAPPING_KEYS
        or not all(isinstance(v, str) and v for v in mapping.values())
    ):
        raise InvalidSamlConfig(f"attribute_mapping maps {sorted(MAPPING_KEYS)} to names")
    if changes.get("idp_sso_url"):
        url = urlparse(changes["idp_sso_url"].strip())
        if url.scheme not in ("https", "http") or not url.hostname:
            raise InvalidSamlConfig("the IdP SSO URL must be an http(s) URL")
    if changes.get("idp_x509_cert"):
        changes["idp_x509_cert"] = _checked_certificate(changes["idp_x509_cert"])
    if "default_role" in changes:
        role = Role(changes["default_role"])
        if role == Role.ORG_ADMIN:
            raise InvalidSamlConfig("new SSO users cannot be made Organization Admins by default")
    with transaction.atomic():
        config = get_config(ctx)
        before = _config_snapshot(config) if config.pk else None
        for name, value in changes.items():
            setattr(config, name, value)
        config.idp_x509_cert = config.idp_x509_cert.strip()
        if config.enabled and not (
            config.idp_entity_id and config.idp_sso_url and config.idp_x509_cert
        ):
            raise InvalidSamlConfig("enabling SSO needs the IdP entity id, SSO URL and certificate")
        config.updated_at = timezone.now()
        config.save()
        record_for(
            ctx,
            audit_actions.SAML_CONFIG_UPDATE,
            ("saml", ctx.organization.pk, ctx.organization.slug),
            before=before,
            after=_config_snapshot(config),
        )
    return config


def _checked_certificate(text: str) -> str:
    """The IdP certificate as given (PEM or its bare base64 body), once it parses as X.509:
    a pasted fragment would otherwise only fail at the first sign-in."""
    text = text.strip()
    body = "".join(
        line for line in text.splitlines() if line.strip() and not line.startswith("-----")
    )
    try:
        x509.load_der_x509_certificate(base64.b64decode(body, validate=True))
    except (binascii.Error, ValueError):
        raise InvalidSamlConfig(
            "the IdP certificate is not an X.509 certificate (paste the PEM text)"
        ) from None
    return text


def sign_in(org: Organization, identity: SamlIdentity, *, ip=None, user_agent="") -> User:
    """The user a valid assertion names, made a member just in time with the default role,
    and put in the teams its groups name. Audited."""
    ctx = system_ctx(org, ip=ip, user_agent=user_agent)
    with tenant_context(ctx), transaction.atomic():
        config = SamlConfig.objects.get()
        name = " ".join(p for p in (identity.first_name, identity.last_name) if p)
        found = Membership.objects.filter(user__email__iexact=identity.email).first()
        provisioned = found is None
        if found is not None:
            membership = found
        else:
            membership = tenancy.add_member(ctx=ctx, email=identity.email, name=name)
            tenancy.create_grant(ctx=ctx, role=Role(config.default_role), membership=membership)
            record_for(
                ctx,
                audit_actions.SAML_USER_PROVISION,
                ("member", membership.pk, identity.email),
                after={"email": identity.email, "role": Role(config.default_role).slug},
            )
        user = membership.user
        if not user.is_active:
            from control_plane.sso.errors import SamlRefused

            raise SamlRefused("this account is deactivated")
        if name and not user.name:
            user.name = name
            user.save(update_fields=["name"])
        joined = []
        for team in Team.objects.filter(name__in=identity.groups).select_related("group"):
            if not team.group.user_set.filter(pk=user.pk).exists():
                tenancy.add_team_member(ctx=ctx, team=team, membership=membership)
                joined.append(team.name)
        record_for(
            ctx,
            audit_actions.SAML_SIGN_IN,
            ("member", membership.pk, identity.email),
            after={"email": identity.email, "provisioned": provisioned, "joined_teams": joined},
        )
    return user


def sso_required_for(user: User) -> bool:
    """Whether password sign-in is refused for ``user``: a member of an organization that
    requires SSO. Break-glass: a direct Organization Admin of that organization may still
    use a password (docs/sso.md)."""
    if not user or not user.pk:
        return False
    requiring = SamlConfig.objects.unscoped().filter(
        enabled=True,
        sso_required=True,
        organization_id__in=Membership.objects.unscoped()
        .filter(user=user)
        .values("organization_id"),
    )
    for config in requiring.select_related("organization"):
        is_admin = (
            RoleGrant.objects.unscoped()
            .filter(
                organization_id=config.organization_id,
                user=user,
                role=Role.ORG_ADMIN,
                scope_key="organization",
            )
            .exists()
        )
        if not is_admin:
            return True
    return False


def sso_organizations_for(user: User) -> list[Organization]:
    """Organizations requiring SSO for ``user`` (the sign-in page links each one's SSO)."""
    return [
        config.organization
        for config in SamlConfig.objects.unscoped()
        .filter(enabled=True, sso_required=True, organization__in=_orgs_of(user))
        .select_related("organization")
    ]


def _orgs_of(user: User):
    return Membership.objects.unscoped().filter(user=user).values("organization_id")


# SCIM tokens -----------------------------------------------------------------------------


def create_scim_token(*, ctx: TenantContext, name: str) -> tuple[ScimToken, str]:
    """A provisioning-only bearer token; the secret is returned once and stored hashed."""
    authorize(ctx.principal, Action.MANAGE_SSO, ctx.organization)
    name = (name or "").strip()[:100] or "SCIM"
    prefix_id = secrets.token_hex(6)
    secret = f"{SCIM_TOKEN_PREFIX}{prefix_id}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = ScimToken.objects.create(
            organization=ctx.organization,
            name=name,
            prefix_id=prefix_id,
            secret_hash=tokens.hash_token(secret),
        )
        record_for(
            ctx, audit_actions.SCIM_TOKEN_CREATE, token, after={"name": name, "prefix": prefix_id}
        )
    return token, secret


def verify_scim_token(value: str) -> ScimToken | None:
    """The live SCIM token ``value`` names, or None (unknown, malformed or revoked)."""
    parts = value.split("_", 3)
    if not value.startswith(SCIM_TOKEN_PREFIX) or len(parts) != 4:
        return None
    row = (
        ScimToken.objects.unscoped()  # authentication precedes any tenant context
        .select_related("organization")
        .filter(prefix_id=parts[2], revoked_at__isnull=True)
        .first()
    )
    if row is None or not hmac.compare_digest(row.secret_hash, tokens.hash_token(value)):
        return None
    return row


def scim_tokens(*, ctx: TenantContext) -> list[ScimToken]:
    """The organization's SCIM tokens, newest first (their secrets are not kept)."""
    authorize(ctx.principal, Action.MANAGE_SSO, ctx.organization)
    return list(ScimToken.objects.order_by("-id"))


def get_scim_token(*, ctx: TenantContext, token_id: int) -> ScimToken:
    authorize(ctx.principal, Action.MANAGE_SSO, ctx.organization)
    token = ScimToken.objects.filter(pk=token_id).first()
    if token is None:
        raise NotFound("no such SCIM token")
    return token


def revoke_scim_token(*, ctx: TenantContext, token: ScimToken) -> None:
    authorize(ctx.principal, Action.MANAGE_SSO, ctx.organization)
    with transaction.atomic():
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            record_for(ctx, audit_actions.SCIM_TOKEN_REVOKE, token, after={"revoked": True})
