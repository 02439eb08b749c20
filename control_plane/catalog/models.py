"""Asset definitions (from agents' snapshots) and the catalog projections of the event log.

Only metadata lives here: keys, dependencies, statuses and small metadata values, never data.
The projections (materializations, observations, check evaluations, partition status) are
derived from ``runs.EventLogEntry`` and can be rebuilt from it.

The projections are written in every ingested batch, so they carry no index that a read does
not use: ``deployment`` is the first column of each one's composite index (no index of its
own), and the unique ``event_id`` is a constraint, which has no ``LIKE`` index beside it.
"""

from __future__ import annotations

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.utils import timezone

from control_plane.core.scoping import TenantManager
from control_plane.tenancy.models import CodeLocation, Deployment, Organization


class LocationSnapshot(models.Model):
    """One version of a code location's definitions as an agent loaded it (or its load error)."""

    class Status(models.TextChoices):
        OK = "ok", "Loaded"
        ERROR = "error", "Failed to load"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    code_location = models.ForeignKey(CodeLocation, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices)
    snapshot_id = models.CharField(max_length=64, blank=True)  # sha-256 of snapshot_json
    snapshot_version = models.PositiveIntegerField(default=0)
    snapshot_json = models.TextField(blank=True)
    error = models.TextField(blank=True)
    sdk_version = models.CharField(max_length=40, blank=True)
    agent_id = models.CharField(max_length=64, blank=True)
    is_current = models.BooleanField(default=True)
    received_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["code_location", "is_current"])]
        constraints = [
            models.UniqueConstraint(
                fields=["code_location"],
                condition=models.Q(is_current=True),
                name="one_current_snapshot_per_location",
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class AssetDefinition(models.Model):
    """One asset key of one snapshot, with its dependencies: the versioned definition."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    code_location = models.ForeignKey(CodeLocation, on_delete=models.CASCADE, related_name="+")
    snapshot = models.ForeignKey(LocationSnapshot, on_delete=models.CASCADE, related_name="assets")
    asset_key = models.CharField(max_length=500)
    deps = models.JSONField(default=list)
    group = models.CharField(max_length=200, blank=True)
    is_external = models.BooleanField(default=False)
    # External but with an observation function: a run may observe it.
    is_observable = models.BooleanField(default=False)
    is_partitioned = models.BooleanField(default=False)
    partitions = models.JSONField(null=True, blank=True)  # PartitionsDefinition.to_snapshot()
    code_version = models.CharField(max_length=200, blank=True)
    checks = models.JSONField(default=list)  # [{"name", "blocking"}]
    # Catalog fields from the snapshot, kept for search and for describing an asset.
    description = models.TextField(blank=True)
    owners = models.JSONField(default=list)
    tags = models.JSONField(default=dict)
    kinds = models.JSONField(default=list)
    metadata = models.JSONField(default=dict)
    # [{"column", "upstream": [{"asset", "column"}]}]: see ``catalog.column_lineage``.
    column_lineage = models.JSONField(default=list)
    # What ``catalog.search`` matches: normalized words of the key, and of everything else.
    search_key = models.TextField(blank=True)
    search_text = models.TextField(blank=True)
    # PostgreSQL only (GIN-indexed, filled by ``catalog.search.index_snapshot``); null elsewhere.
    search_vector = SearchVectorField(null=True, blank=True)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["snapshot", "asset_key"], name="asset_def_unique")
        ]
        # Plus a GIN index on ``search_vector``, created on PostgreSQL only by migration
        # 0008_mcp_asset_search (SQLite has no GIN; its search is the plain fallback).
        indexes = [models.Index(fields=["deployment", "asset_key"])]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class Materialization(models.Model):
    """An ``asset_materialization`` event, projected for catalog reads."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    partition = models.CharField(max_length=255, blank=True)
    run_id = models.UUIDField()
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    metadata = models.JSONField(default=dict)
    data_version = models.CharField(max_length=200, blank=True)
    code_version = models.CharField(max_length=200, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["deployment", "asset_key", "partition", "timestamp"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], name="catalog_materialization_event_id_key"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class Observation(models.Model):
    """An ``asset_observation`` event (external assets), projected for catalog reads."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    partition = models.CharField(max_length=255, blank=True)
    run_id = models.UUIDField()
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    metadata = models.JSONField(default=dict)
    data_version = models.CharField(max_length=200, blank=True)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["deployment", "asset_key", "timestamp"])]
        constraints = [
            models.UniqueConstraint(fields=["event_id"], name="catalog_observation_event_id_key")
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class CheckEvaluation(models.Model):
    """An ``asset_check_evaluation`` event, projected for catalog reads."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    check_name = models.CharField(max_length=200)
    partition = models.CharField(max_length=255, blank=True)
    run_id = models.UUIDField()
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()
    passed = models.BooleanField()
    severity = models.CharField(max_length=10, default="ERROR")
    blocking = models.BooleanField(default=False)
    metadata = models.JSONField(default=dict)

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["deployment", "asset_key", "check_name", "timestamp"])]
        constraints = [
            models.UniqueConstraint(
                fields=["event_id"], name="catalog_checkevaluation_event_id_key"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class AssetPartitionStatus(models.Model):
    """Latest outcome per (deployment, asset, partition); ``partition`` is '' when unpartitioned."""

    class Status(models.TextChoices):
        MATERIALIZED = "materialized", "Materialized"
        FAILED = "failed", "Failed"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    partition = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    run_id = models.UUIDField()
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "asset_key", "partition"], name="asset_partition_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class AssetCheckStatus(models.Model):
    """Latest evaluation per (deployment, asset, check)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    check_name = models.CharField(max_length=200)
    passed = models.BooleanField()
    severity = models.CharField(max_length=10, default="ERROR")
    run_id = models.UUIDField()
    event_id = models.CharField(max_length=64)
    timestamp = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "asset_key", "check_name"], name="asset_check_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class DynamicPartition(models.Model):
    """A key of a ``DynamicPartitionsDefinition`` in one deployment (added by sensors)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    partitions_def_name = models.CharField(max_length=200)
    key = models.CharField(max_length=255)
    created_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "partitions_def_name", "key"],
                name="dynamic_partition_unique",
            )
        ]
        indexes = [models.Index(fields=["deployment", "partitions_def_name", "created_at"])]

    def __str__(self) -> str:
        return f"{self.partitions_def_name}:{self.key}"


class AssetStatusChange(models.Model):
    """A materialization, observation or step failure of one asset partition that automation
    has not folded into :class:`AssetStatusSummary` yet.

    Written by ingest in the event's own transaction (one statement per batch); the
    automation tick reads a deployment's rows, folds them and deletes them in the
    transaction that saves its cursor, so every change is new to exactly one tick, even
    one that committed after a later event id was already seen. ``storage_id`` is the
    event's id in the event log.
    """

    class Kind(models.TextChoices):
        MATERIALIZED = "m", "Materialized or observed"
        FAILED = "f", "Failed"

    storage_id = models.BigIntegerField(primary_key=True)
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    asset_key = models.CharField(max_length=500)
    partition = models.CharField(max_length=255, blank=True)
    # A step over several partitions (a single-run backfill) names them here, as the SDK's
    # ``PartitionsSubset.to_serializable()``; the fold reads it with the asset's definition.
    partition_subset = models.JSONField(null=True, blank=True)
    kind = models.CharField(max_length=1, choices=Kind.choices)
    timestamp = models.DateTimeField()

    objects = TenantManager()

    class Meta:
        indexes = [models.Index(fields=["deployment", "storage_id"])]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"


class AssetStatusSummary(models.Model):
    """Per (deployment, asset): every partition ever materialized and those whose latest
    attempt failed, each as one SDK ``PartitionsSubset`` in its compact JSON form (ranges of
    keys), so automation reads one short row per asset instead of a row per partition.

    Folded from :class:`AssetStatusChange` by the automation tick; rebuilt from the
    materialization history when the asset's partitioning changed shape.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="+")
    asset_key = models.CharField(max_length=500)
    materialized = models.TextField(blank=True)  # subset JSON; '' when nothing
    failed = models.TextField(blank=True)  # subset JSON; '' when nothing
    last_materialized_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    objects = TenantManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "asset_key"], name="asset_status_summary_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{type(self).__name__} {self.pk}"
