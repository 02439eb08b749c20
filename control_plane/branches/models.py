"""A branch deployment per pull request, and the CI tokens that may open and close them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Deployment, Organization, User


class BranchDeployment(models.Model):
    """The pull request behind a branch ``Deployment``; (repo, PR) names it for life.

    Closed deployments keep their catalog read-only until ``delete_after``; the row is kept
    after the deployment is deleted (``deployment`` null) so the history stays auditable.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"
        DELETED = "deleted", "Deleted"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.OneToOneField(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    base = models.ForeignKey(Deployment, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=63)
    repo = models.CharField(max_length=200)
    pr_number = models.PositiveIntegerField()
    branch = models.CharField(max_length=255)
    commit = models.CharField(max_length=64)
    # The commit whose code the agent last loaded (set as its snapshots arrive); empty when
    # the snapshots did not come from a branch-serving agent. Differs from `commit` while
    # the agent is still loading a push, so nobody reads the last commit's diff as this one's.
    loaded_commit = models.CharField(max_length=64, blank=True)
    # When the agent last sent a snapshot of it (an unchanged one too: a push that changes
    # no definition still moves `loaded_commit`, and the PR comment must catch up).
    loaded_at = models.DateTimeField(null=True, blank=True)
    title = models.CharField(max_length=300, blank=True)
    author = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_activity_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)
    delete_after = models.DateTimeField(null=True, blank=True)
    close_reason = models.CharField(max_length=40, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "repo", "pr_number"], name="branch_one_per_pull_request"
            )
        ]
        indexes = [models.Index(fields=["status", "last_activity_at"])]

    def __str__(self) -> str:
        return f"{self.repo}#{self.pr_number}"


class CiToken(models.Model):
    """A token that may only open, update and close branch deployments and deploy prod.

    Only a SHA-256 hash of the secret is stored, as for API tokens.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)
    prefix_id = models.CharField(max_length=24, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"ci token {self.prefix_id}"


class GitHubIntegration(models.Model):
    """An organization's GitHub webhook secret and the token that writes PR comments.

    Both are encrypted with a key derived from ``SECRET_KEY`` (``branches.secrets``): the
    webhook secret must be read back to verify signatures, so it cannot be hashed.
    """

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    webhook_secret = models.TextField()
    api_token = models.TextField(blank=True)
    api_url = models.URLField(default="https://api.github.com")
    console_url = models.URLField(blank=True)  # where PR comments link to
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"GitHub integration of organization {self.organization_id}"


class WebhookDelivery(models.Model):
    """Each verified delivery, by GitHub's delivery id: handled once, a replay is refused."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    delivery_id = models.CharField(max_length=100)
    event = models.CharField(max_length=50)
    action = models.CharField(max_length=50, blank=True)
    outcome = models.CharField(max_length=200, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "delivery_id"], name="webhook_delivery_once"
            )
        ]

    def __str__(self) -> str:
        return f"delivery {self.delivery_id}"


class PullRequestComment(models.Model):
    """The one comment per pull request that each update edits."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    branch = models.OneToOneField(BranchDeployment, on_delete=models.CASCADE, related_name="+")
    comment_id = models.BigIntegerField()
    body_sha256 = models.CharField(max_length=64)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"comment {self.comment_id}"
