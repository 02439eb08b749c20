"""Plans, the credit ledger and its daily rollups.

One credit is one asset materialization (SPEC §3). The ledger holds one row per billed
event, unique on the event's id, written in the ingest transaction that stores the event;
``DailyUsage`` is the same credits summed per organization, deployment, code location,
asset and UTC day, folded in from the ledger by the daemon's rollup loop (``billing.rollup``,
by ``RollupCursor``), so usage is read without scanning events and ingestion locks no
shared row.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import CodeLocation, Deployment, Organization


class Plan(models.Model):
    """A tier of the catalogue (data, seeded by a migration). ``None`` limits: unlimited."""

    tier = models.SlugField(max_length=40, unique=True)  # ``Organization.plan`` names it
    name = models.CharField(max_length=80)
    base_price = models.DecimalField(max_digits=10, decimal_places=2, null=True)
    credit_price = models.DecimalField(max_digits=10, decimal_places=4, null=True)
    user_limit = models.PositiveIntegerField(null=True, blank=True)
    code_location_limit = models.PositiveIntegerField(null=True, blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.name

    @property
    def is_custom(self) -> bool:
        """Custom pricing (Pro, Enterprise): no list price to compute a bill from."""
        return self.base_price is None or self.credit_price is None


class CreditLedgerEntry(models.Model):
    """One billed event. Unique on ``event_id``: a replayed event can never bill twice."""

    # No database-level foreign keys: checked per row at 20,000 events/s for nothing, as
    # the event log's own organization column (the run's cascade removes both).
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    event_id = models.CharField(max_length=64)
    run_id = models.UUIDField()
    deployment = models.ForeignKey(
        Deployment, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    code_location = models.ForeignKey(
        CodeLocation, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    asset_key = models.CharField(max_length=500)
    day = models.DateField()
    credits = models.PositiveIntegerField(default=1)
    recorded_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="billing_ledger_event_id_key")
        ]

    def __str__(self) -> str:
        return f"{self.event_id}: {self.credits}"


class DailyUsage(models.Model):
    """Credits per organization, deployment, code location, asset and UTC day."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    deployment = models.ForeignKey(
        Deployment, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    code_location = models.ForeignKey(
        CodeLocation, on_delete=models.DO_NOTHING, related_name="+", db_constraint=False
    )
    asset_key = models.CharField(max_length=500)
    day = models.DateField()
    credits = models.BigIntegerField(default=0)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "deployment", "code_location", "asset_key", "day"],
                name="billing_daily_usage_key",
            )
        ]
        indexes = [models.Index(fields=["organization", "day"])]

    def __str__(self) -> str:
        return f"{self.asset_key} {self.day}: {self.credits}"


class RollupCursor(models.Model):
    """How far a rollup has folded the ledger in (``billing.rollup``): a transaction id on
    PostgreSQL, a ledger id on SQLite. Not tenant-owned: one cursor covers every
    organization's ledger rows."""

    name = models.CharField(max_length=40, unique=True)
    position = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.position}"


class BillingAccount(models.Model):
    """An organization's standing with Stripe (one per organization, made on first use)."""

    class Status(models.TextChoices):
        ACTIVE = "active"
        PAST_DUE = "past_due"
        CANCELED = "canceled"

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    stripe_customer_id = models.CharField(max_length=255, blank=True, db_index=True)
    stripe_subscription_id = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    past_due_since = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.status}"


class StripeEvent(models.Model):
    """A webhook event handled: its id is recorded so a redelivery changes nothing."""

    event_id = models.CharField(max_length=255, unique=True)
    event_type = models.CharField(max_length=100)
    organization = models.ForeignKey(
        Organization, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.event_id


class UsageReport(models.Model):
    """A day's credits reported to Stripe as a meter event. The meter event's identifier is
    ``assay-<org>-<day>``, so Stripe drops a resend after a crash between sending and
    recording here; this row only spares the request."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    credits = models.BigIntegerField()
    identifier = models.CharField(max_length=100)
    reported_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["organization", "day"], name="billing_usage_report_key")
        ]

    def __str__(self) -> str:
        return self.identifier


class Budget(models.Model):
    """An organization's monthly credit budget; ``hard_cap`` holds runs queued once spent."""

    organization = models.OneToOneField(Organization, on_delete=models.CASCADE, related_name="+")
    monthly_credits = models.PositiveBigIntegerField()
    hard_cap = models.BooleanField(default=False)
    # The highest threshold (80, 100) already alerted in ``alerted_month`` (its first day).
    alerted_month = models.DateField(null=True, blank=True)
    alerted_percent = models.PositiveSmallIntegerField(default=0)

    objects = TenantManager()

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.monthly_credits}"
