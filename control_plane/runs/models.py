"""Runs, the append-only event log, and each agent's ingestion cursor."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import CodeLocation, Deployment, Organization


class RunStatus(models.TextChoices):
    QUEUED = "QUEUED", "Queued"
    STARTING = "STARTING", "Starting"
    STARTED = "STARTED", "Started"
    SUCCESS = "SUCCESS", "Success"
    FAILURE = "FAILURE", "Failure"
    CANCELING = "CANCELING", "Canceling"
    CANCELED = "CANCELED", "Canceled"


# The longest selection the daemon (automation, backfills) writes into one run: well
# inside a gRPC message (LaunchRun.asset_selection) of the default 4 MiB.
MAX_DAEMON_SELECTION = 1_000_000
# The longest run key a tick may carry: agents' answers are checked against it (in bytes,
# so a key that passes always fits the column). Here, below both automation (which stores
# it) and agents (which check it), so that neither imports the other's models for it.
MAX_RUN_KEY = 1000

TERMINAL_STATUSES = frozenset({RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED})
IN_PROGRESS_STATUSES = frozenset({RunStatus.STARTING, RunStatus.STARTED, RunStatus.CANCELING})


class Run(models.Model):
    """One execution of a selection of a code location's assets, queued then run by an agent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    code_location = models.ForeignKey(CodeLocation, on_delete=models.CASCADE, related_name="+")
    # SDK selection syntax. People type short ones (the API takes up to 2,000 characters);
    # the daemon may name hundreds of keys (at most MAX_DAEMON_SELECTION).
    selection = models.TextField(blank=True)
    asset_keys = models.JSONField(default=list)  # the selection resolved at launch
    snapshot_id = models.CharField(max_length=64, blank=True)
    partition_key = models.CharField(max_length=255, blank=True)
    partition_range_start = models.CharField(max_length=255, blank=True)
    partition_range_end = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=dict)
    priority = models.IntegerField(default=0)
    status = models.CharField(max_length=12, choices=RunStatus.choices, default=RunStatus.QUEUED)
    reason = models.TextField(blank=True)
    retry_count = models.PositiveIntegerField(default=0)
    parent_run = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    launched_by = models.CharField(max_length=254, blank=True)
    # The backfill that launched this run (its planned runs become runs like any other),
    # also on the retries its ``max_retries`` tag queues.
    backfill = models.ForeignKey(
        "backfills.Backfill", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent_session = models.ForeignKey(
        "agents.AgentSession", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    assigned_at = models.DateTimeField(null=True, blank=True)  # dequeued to an agent session
    dispatched_at = models.DateTimeField(null=True, blank=True)  # LaunchRun sent on the stream
    terminate_requested_at = models.DateTimeField(null=True, blank=True)
    terminate_dispatched_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        indexes = [
            models.Index(fields=["deployment", "status", "-priority", "created_at"]),
            models.Index(fields=["organization", "created_at"]),
            models.Index(fields=["agent_session", "status"]),
            # The dequeuer's "which deployments have queued runs" and monitoring's scan stay
            # small however many finished runs accumulate.
            models.Index(
                fields=["deployment"], condition=models.Q(status="QUEUED"), name="run_queued_idx"
            ),
            models.Index(
                fields=["agent_session"],
                condition=models.Q(status__in=["STARTING", "STARTED", "CANCELING"]),
                name="run_in_progress_idx",
            ),
            # A backfill pass's "did any of its runs finish" counts a few rows, not every
            # run the backfill ever launched.
            models.Index(
                fields=["backfill"],
                condition=models.Q(status__in=["QUEUED", "STARTING", "STARTED", "CANCELING"]),
                name="run_unfinished_backfill_idx",
            ),
        ]

    def __str__(self) -> str:
        return str(self.id)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class EventLogEntry(models.Model):
    """One fact about a run, as the agent sent it. Append-only; ``event_id`` makes ingest
    idempotent. Run status changes are stored here too (type ``run_status_change``).

    The biggest table, written ~20,000 rows/s per agent, so it carries only what a read or
    a guarantee needs: the unique event id, ``(run, id)`` for a run's events (and cascades),
    ``organization`` for tenant scoping. ``organization`` is the run's, so the run's foreign
    key alone keeps rows tied to something that exists; a second one would be checked per
    row at every commit for nothing.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="+", db_index=False)
    event_id = models.CharField(max_length=64)
    agent_id = models.CharField(max_length=64, blank=True)
    sequence = models.BigIntegerField(default=0)  # the agent's per-agent sequence number
    event_type = models.CharField(max_length=40)
    asset_key = models.CharField(max_length=500, blank=True)
    partition = models.CharField(max_length=255, blank=True)
    timestamp = models.DateTimeField()
    payload = models.JSONField(default=dict)
    ingested_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["run", "id"])]
        constraints = [
            # A plain unique index: no ``varchar_pattern_ops`` twin (nothing searches by prefix).
            models.UniqueConstraint(fields=["event_id"], name="runs_eventlogentry_event_id_key")
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class IngestCursor(models.Model):
    """Per agent: the highest sequence N with every sequence <= N ingested (the Ack), plus the
    sequences already ingested above a gap (normally empty)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    agent_id = models.CharField(max_length=64)
    acked_sequence = models.BigIntegerField(default=0)
    pending = models.JSONField(default=list)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "agent_id"], name="ingest_cursor_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"
