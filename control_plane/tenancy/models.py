"""Organizations (tenants), deployments, code locations, users, memberships, teams,
role grants and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, Group, PermissionsMixin
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.roles import Action, Role

_OBJECT_PERMISSIONS = [(action.value, f"Can {action.value.replace('_', ' ')}") for action in Action]


class UserManager(BaseUserManager):
    def create_user(self, email: str, password: str | None = None, **extra) -> User:
        user = self.model(email=self.normalize_email(email), **extra)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, email: str) -> User:
        return self.get(email__iexact=email)


class User(AbstractBaseUser, PermissionsMixin):
    """A person. Identified by email, unique regardless of case; belongs to orgs via Membership."""

    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    class Meta:
        constraints = [models.UniqueConstraint(Lower("email"), name="tenancy_user_email_ci_unique")]

    def __str__(self) -> str:
        return self.email


class Organization(models.Model):
    """A tenant. Every other object belongs to exactly one."""

    slug = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=40, default="starter")  # billing owns its meaning
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        default_permissions = ()
        permissions = _OBJECT_PERMISSIONS

    def __str__(self) -> str:
        return self.slug


class Deployment(models.Model):
    class Kind(models.TextChoices):
        PROD = "prod", "Production"
        BRANCH = "branch", "Branch"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=63)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.BRANCH)
    max_concurrent_runs = models.PositiveIntegerField(default=10)
    # Tag concurrency limits of the run queue: [{"key": "warehouse", "value": "snowflake",
    # "limit": 2}, ...]; a run carrying that tag waits while `limit` such runs are in progress.
    run_tag_limits = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        default_permissions = ()
        permissions = _OBJECT_PERMISSIONS
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="deployment_name_unique"),
            models.UniqueConstraint(
                fields=["organization"],
                condition=models.Q(kind="prod"),
                name="deployment_one_prod_per_org",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CodeLocation(models.Model):
    """An isolated Python environment with a set of assets; the governance boundary."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    module = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        default_permissions = ()
        permissions = _OBJECT_PERMISSIONS
        constraints = [
            models.UniqueConstraint(fields=["deployment", "name"], name="code_location_name_unique")
        ]
        indexes = [models.Index(fields=["deployment", "id"])]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="membership_unique")
        ]
        indexes = [models.Index(fields=["organization", "id"])]

    def __str__(self) -> str:
        return f"{self.user_id}@{self.organization_id}"


class Team(models.Model):
    """Members of an organization that receive grants together (backed by an auth Group)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    group = models.OneToOneField(Group, on_delete=models.PROTECT, related_name="team")
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["organization", "name"], name="team_unique")]

    def __str__(self) -> str:
        return self.name


class RoleGrant(models.Model):
    """A role given to a user or team at organization, deployment or code-location scope."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    role = models.PositiveSmallIntegerField(choices=[(r.value, r.label) for r in Role])
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    code_location = models.ForeignKey(
        CodeLocation, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    grantee_key = models.CharField(max_length=40)  # "user:<id>" | "team:<id>"
    scope_key = models.CharField(max_length=40)  # "organization" | "deployment:<id>" | ...
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "grantee_key", "scope_key"], name="role_grant_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(user__isnull=False, team__isnull=True)
                | models.Q(user__isnull=True, team__isnull=False),
                name="role_grant_one_grantee",
            ),
        ]

    def __str__(self) -> str:
        return f"{Role(self.role).label} for {self.grantee_key} on {self.scope_key}"

    @property
    def scope(self) -> str:
        if self.code_location_id:
            return "code_location"
        if self.deployment_id:
            return "deployment"
        return "organization"


class ApiToken(models.Model):
    """A user API token or an agent token. Only a SHA-256 hash of the secret is stored."""

    class Kind(models.TextChoices):
        USER = "user", "User"
        AGENT = "agent", "Agent"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    prefix_id = models.CharField(max_length=24, unique=True)  # public, non-secret lookup key
    secret_hash = models.CharField(max_length=64)  # hex SHA-256 of the whole token
    user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # User tokens may be narrowed to one deployment and a lower role.
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    max_role = models.PositiveSmallIntegerField(null=True, blank=True)
    # Agent tokens serve a set of deployments.
    deployments = models.ManyToManyField(Deployment, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["organization", "id"])]

    def __str__(self) -> str:
        return f"{self.kind} token {self.prefix_id}"

    def is_expired(self, now=None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or timezone.now())

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
