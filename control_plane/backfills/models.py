"""A backfill: a partition range (or list, or "everything missing") of a selection, planned
once when requested and advanced run by run by the daemon."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import Deployment, Organization


class BackfillStatus(models.TextChoices):
    REQUESTED = "requested", "Requested"  # the daemon launches its runs
    CANCELING = "canceling", "Canceling"  # nothing new launches; waiting for running runs
    CANCELED = "canceled", "Canceled"
    SUCCEEDED = "succeeded", "Succeeded"  # every asset partition succeeded
    FAILED = "failed", "Failed"  # finished, with failed (and so skipped) partitions


ACTIVE_STATUSES = frozenset({BackfillStatus.REQUESTED, BackfillStatus.CANCELING})


class Backfill(models.Model):
    """What was asked for, the plan (``plan``: runs in launch order and what each waits for)
    and the progress of every planned run (``progress``), as ``stored_state`` encodes them.

    ``run_counts``/``partition_counts`` repeat the totals so lists never decode the state.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(
        max_length=10, choices=BackfillStatus.choices, default=BackfillStatus.REQUESTED
    )
    # The request, as given.
    location_name = models.CharField(max_length=100, blank=True)  # '' = every location
    selection = models.CharField(max_length=2000, blank=True)
    partition_range_start = models.CharField(max_length=255, blank=True)
    partition_range_end = models.CharField(max_length=255, blank=True)
    partition_keys = models.JSONField(null=True, blank=True)
    all_missing = models.BooleanField(default=False)
    max_concurrent_runs = models.PositiveIntegerField()
    tags = models.JSONField(default=dict)
    launched_by = models.CharField(max_length=254, blank=True)
    # The plan and its progress.
    plan = models.JSONField()
    progress = models.JSONField(default=dict)
    run_counts = models.JSONField(default=dict)
    partition_counts = models.JSONField(default=dict)
    # Why nothing new launches although runs are due ("waiting for code location 'shop'
    # to load"): a location whose latest snapshot failed pauses a backfill, it does not fail it.
    waiting_reason = models.CharField(max_length=500, blank=True)
    # Daemon passes that changed something; each one's number is its tick key.
    passes = models.PositiveIntegerField(default=0)
    # How many of its runs were unfinished when the last pass left it. A pass finding the
    # same number has nothing to do (none finished, so no slot freed and nothing became
    # ready) and skips decoding the plan. Null: the next pass looks (a new backfill, or one
    # a person changed).
    unfinished_runs = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["deployment", "-created_at"]),
            # The daemon's "which backfills have work" stays small however many finished.
            models.Index(
                fields=["status"],
                condition=models.Q(status__in=["requested", "canceling"]),
                name="backfill_active_idx",
            ),
        ]

    def __str__(self) -> str:
        return f"backfill {self.id}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES
