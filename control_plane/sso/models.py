"""Per-organization SAML identity-provider settings, remembered assertion ids (replay
protection), SCIM provisioning tokens and the SCIM identities of users and teams."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Deployment, Organization, RoleGrant, Team, User
from control_plane.tenancy.roles import Role

# Attribute names Okta's and Azure AD's default SAML apps send (docs/sso.md).
DEFAULT_ATTRIBUTE_MAPPING = {
    "email": "email",
    "first_name": "firstName",
    "last_name": "lastName",
    "groups": "groups",
}


class SamlConfig(models.Model):
    """One organization's identity provider. The IdP certificate is public; nothing here is
    secret (the SP signs nothing, so it holds no private key)."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    idp_entity_id = models.CharField(max_length=1024, blank=True)
    idp_sso_url = models.URLField(max_length=1024, blank=True)
    idp_x509_cert = models.TextField(blank=True)
    attribute_mapping = models.JSONField(default=dict, blank=True)
    default_role = models.PositiveSmallIntegerField(
        choices=[(r.value, r.label) for r in Role], default=Role.VIEWER
    )
    sso_required = models.BooleanField(default=False)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"SAML settings of {self.organization_id}"

    def mapping(self) -> dict[str, str]:
        return {**DEFAULT_ATTRIBUTE_MAPPING, **(self.attribute_mapping or {})}


class SeenAssertion(models.Model):
    """An assertion id already used to sign in, kept until the assertion expires."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    assertion_id = models.CharField(max_length=256)
    expires_at = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "assertion_id"], name="sso_seen_assertion_unique"
            )
        ]

    def __str__(self) -> str:
        return self.assertion_id


class ScimToken(models.Model):
    """A bearer token that may only provision (the SCIM endpoints); only its hash is kept."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    prefix_id = models.CharField(max_length=24, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"SCIM token {self.prefix_id}"


class ScimUser(models.Model):
    """The SCIM view of a member: its externalId and active flag (an inactive user keeps
    this row but no membership, so the IdP can still read and reactivate it)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=256, blank=True)
    user_name = models.CharField(max_length=254)
    given_name = models.CharField(max_length=100, blank=True)
    family_name = models.CharField(max_length=100, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    emails = models.JSONField(default=list, blank=True)  # as the IdP sent them
    active = models.BooleanField(null=True, default=True)  # None: unassigned, counts as true
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="scim_user_unique")
        ]

    def __str__(self) -> str:
        return self.user_name


class ScimGroup(models.Model):
    """The SCIM view of a team."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.OneToOneField(Team, on_delete=models.CASCADE, related_name="+")
    external_id = models.CharField(max_length=256, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return str(self.team_id)


class SamlRequest(models.Model):
    """An AuthnRequest we sent, so the response answering it can be matched without a
    session cookie (browsers drop SameSite=Lax cookies on the IdP's cross-site POST)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    request_id = models.CharField(max_length=256)
    return_to = models.CharField(max_length=1024, blank=True)
    expires_at = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "request_id"], name="sso_saml_request_unique"
            )
        ]

    def __str__(self) -> str:
        return self.request_id


class TeamDefaultRole(models.Model):
    """The role a team's members get on every deployment of one kind (prod or branch),
    including deployments made later. It is applied as ordinary team grants (so the
    permission checks stay guardian lookups), each remembered in ``DefaultRoleGrant``."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    deployment_kind = models.CharField(max_length=10, choices=Deployment.Kind.choices)
    role = models.PositiveSmallIntegerField(choices=[(r.value, r.label) for r in Role])
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["team", "deployment_kind"], name="sso_team_default_role_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{Role(self.role).label} on {self.deployment_kind} for team {self.team_id}"


class DefaultRoleGrant(models.Model):
    """A team grant made from a ``TeamDefaultRole``, with the role it was given. A grant
    whose role someone changed since is explicit and left alone from then on."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    default = models.ForeignKey(TeamDefaultRole, on_delete=models.CASCADE, related_name="+")
    grant = models.OneToOneField(RoleGrant, on_delete=models.CASCADE, related_name="+")
    role = models.PositiveSmallIntegerField()

    objects = TenantManager()

    def __str__(self) -> str:
        return f"default grant {self.grant_id}"
