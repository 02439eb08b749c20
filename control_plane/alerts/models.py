"""Alert policies, the incidents they watch for, and each notice sent about an incident."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Deployment, Organization


class IncidentKind(models.TextChoices):
    RUN_FAILURE = "run_failure", "Run failure"
    CHECK_FAILURE = "check_failure", "Asset check failure"
    FRESHNESS_VIOLATION = "freshness_violation", "Freshness violation"
    AGENT_OFFLINE = "agent_offline", "Agent offline"
    TICK_FAILURE = "tick_failure", "Schedule, sensor or automation tick failure"
    BUDGET = "budget", "Credit budget 80% or 100% used"  # opened by billing


class CheckSeverity(models.TextChoices):
    WARN = "WARN", "Warning"
    ERROR = "ERROR", "Error"


class AlertPolicy(models.Model):
    """Who is told about which incidents of one deployment, and through which channels.

    ``webhooks`` is ``[{"url": ..., "format": "json" | "slack"}]``; URLs are secrets (Slack
    puts its token in the path) and leave the control plane only masked.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    kinds = models.JSONField(default=list)  # IncidentKind values
    min_check_severity = models.CharField(
        max_length=5, choices=CheckSeverity.choices, default=CheckSeverity.WARN
    )
    selection = models.CharField(max_length=1000, blank=True)  # assay selection syntax
    tags = models.JSONField(default=dict, blank=True)  # {"team": "finance"}: all must match
    emails = models.JSONField(default=list, blank=True)
    webhooks = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "name"], name="alert_policy_name_unique")
        ]

    def __str__(self) -> str:
        return self.name


class Incident(models.Model):
    """Something wrong in a deployment, open until resolved; at most one open per key."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=30, choices=IncidentKind.choices)
    key = models.CharField(max_length=500)  # e.g. "freshness:analytics/daily_metrics"
    opened_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    # Small facts for people (asset, run id, overdue minutes); datetimes and UUIDs welcome.
    details = models.JSONField(default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "kind", "key"],
                condition=models.Q(resolved_at__isnull=True),
                name="one_open_incident_per_key",
            )
        ]
        indexes = [models.Index(fields=["deployment", "-opened_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.key}"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None


class AlertDelivery(models.Model):
    """One notice (opened or resolved) of one incident to one email address or webhook."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"

    class Notice(models.TextChoices):
        OPENED = "opened", "Opened"
        RESOLVED = "resolved", "Resolved"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="deliveries")
    # Kept when the policy is deleted, so the history of what was sent stays readable.
    policy = models.ForeignKey(
        AlertPolicy, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=10, choices=Channel.choices)
    target = models.CharField(max_length=2000)  # the address, or the webhook URL (a secret)
    payload_format = models.CharField(max_length=10, default="json")  # webhooks: json | slack
    notice = models.CharField(max_length=10, choices=Notice.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            # Overlapping policies do not send the same notice to the same place twice.
            models.UniqueConstraint(
                fields=["incident", "notice", "channel", "target"], name="one_notice_per_target"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="alert_delivery_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.notice} {self.channel} for incident {self.incident_id}"


class AlertDeliveryAttempt(models.Model):
    """One try at sending a delivery, successful or not: the record that nothing was silent."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(AlertDelivery, on_delete=models.CASCADE, related_name="tries")
    number = models.PositiveIntegerField()
    attempted_at = models.DateTimeField()
    ok = models.BooleanField()
    error = models.TextField(blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
