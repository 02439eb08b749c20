"""One-time links: console sign-in links (``assay dev``) and invitations to an organization.

Only a hash of each link's secret is stored; a link works once and expires.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Membership, Organization, User


class SignInLink(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    secret_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sign-in link {self.pk}"


class Invitation(models.Model):
    """An invitation of an email address to an organization, accepted by its holder."""

    class Status(models.TextChoices):
        PENDING = "pending"
        ACCEPTED = "accepted"
        REVOKED = "revoked"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField(max_length=254)
    name = models.CharField(max_length=200, blank=True)  # as the inviter wrote it
    invited_by = models.CharField(max_length=254, blank=True)
    secret_hash = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    membership = models.ForeignKey(
        Membership, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["organization", "email"])]

    def __str__(self) -> str:
        return f"invitation {self.pk}"

    def is_usable(self, now=None) -> bool:
        return self.status == self.Status.PENDING and (now or timezone.now()) < self.expires_at
