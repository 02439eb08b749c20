"""The append-only, per-organization HMAC-chained audit log and its signed checkpoints."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.audit.errors import AuditLogIsAppendOnly
from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Organization


class AuditEventQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be updated")

    def delete(self):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")


class AuditEventManager(TenantManager.from_queryset(AuditEventQuerySet)):
    pass


class AuditEvent(models.Model):
    """One security-relevant or mutating action. ``hash`` covers the row and ``prev_hash``."""

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()  # 1, 2, 3... per organization
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=10)  # user | agent | system
    actor_id = models.CharField(max_length=64, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=64)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditEventManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "seq"], name="audit_event_seq_unique")
        ]
        indexes = [
            models.Index(fields=["organization", "occurred_at"]),
            models.Index(fields=["organization", "action"]),
        ]

    def __str__(self) -> str:
        return f"{self.organization_id}#{self.seq} {self.action}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit events cannot be deleted")


class AuditCheckpoint(models.Model):
    """A signed record of one chain's head: the chain had ``seq`` rows ending in ``head_hash``.

    ``verify_audit`` checks every checkpoint against the chain, so deleting the newest rows
    shows. A ``legacy`` checkpoint seals the rows hashed before the chain was keyed: up to
    its ``seq`` rows verify with the old public hash, after it only with the key.
    """

    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    seq = models.PositiveBigIntegerField()
    head_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(default=timezone.now)
    legacy = models.BooleanField(default=False)
    signature = models.CharField(max_length=64)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["organization", "seq"])]

    def __str__(self) -> str:
        return f"{self.organization_id}@{self.seq}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditLogIsAppendOnly("audit checkpoints cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditLogIsAppendOnly("audit checkpoints cannot be deleted")
