"""The compact status projection automation reads: per asset, which partitions were ever
materialized and which failed last, as SDK subsets in their JSON form.

Ingest queues each status-changing event (materialization, observation, step failure) as
an :class:`AssetStatusChange` row, one ``INSERT ... SELECT`` per batch; it cannot fold
them itself because turning partition keys into ranges needs the asset's partitions
definition, which only the deployment's rebuilt graph has. The automation tick folds the
queued rows into :class:`AssetStatusSummary` (one short row per asset) and deletes them in
the transaction that saves its cursor. The per-partition tables (``Materialization``,
``AssetPartitionStatus``) stay the source for the rare questions a summary cannot answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from assay.execution.events import StatusEffect, event_types_with, status_effect
from control_plane.catalog.models import (
    AssetPartitionStatus,
    AssetStatusChange,
    AssetStatusSummary,
    Materialization,
    Observation,
)
from control_plane.core import bulk
from control_plane.tenancy.models import Deployment

# The kind of change queued for each status effect that settles a partition's status
# (``assay.execution.events.status_effect`` says which events have which effect).
_QUEUED_KINDS = {
    StatusEffect.MATERIALIZED: AssetStatusChange.Kind.MATERIALIZED,
    StatusEffect.FAILED: AssetStatusChange.Kind.FAILED,
}
STATUS_KINDS = {
    kind.value: _QUEUED_KINDS[status_effect(kind)] for kind in event_types_with(*_QUEUED_KINDS)
}


class ProjectableEvent(Protocol):
    """What the queue needs from an ingested event (``runs.ingest``'s entries)."""

    event_id: str
    event_type: str
    run_id: Any
    asset_key: str
    partition: str
    timestamp: datetime
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One queued change: ``kind`` is ``m`` (materialized or observed) or ``f`` (failed).
    A step over several partitions has ``partition`` '' and names them in
    ``partition_subset`` (``PartitionsSubset.to_serializable()``)."""

    storage_id: int
    asset_key: str
    partition: str
    kind: str
    timestamp: datetime
    partition_subset: dict[str, Any] | None = None


def step_partition_subset(event: ProjectableEvent) -> dict[str, Any] | None:
    """The partitions a step over several of them covered (``step_failed`` events carry
    them in their payload), or None; a subset the agent had to truncate is no use."""
    if event.partition or status_effect(event.event_type) is not StatusEffect.FAILED:
        return None
    subset = (event.payload.get("payload") or {}).get("partition_subset")
    if not isinstance(subset, dict) or subset.get("truncated"):
        return None
    return subset


@dataclass(frozen=True, slots=True)
class Summary:
    """One asset's folded status; subsets are ``to_serializable()`` JSON, '' for none."""

    asset_key: str
    materialized: str
    failed: str
    last_materialized_at: datetime | None


@dataclass(frozen=True, slots=True)
class LatestMaterialization:
    event_id: str
    timestamp: datetime
    run_id: str
    code_version: str


def queue_status_changes(
    *, organization_id: int, events: Sequence[ProjectableEvent], deployment_of: Mapping[Any, int]
) -> None:
    """Queue the status-changing ``events`` (just inserted into the event log, in the
    caller's transaction) for the next automation tick: one statement per batch.

    Each row's storage id is its event's id in the event log, found through the log's
    unique ``event_id`` index (a probe per row, whatever the table's statistics say).
    """
    changes = [e for e in events if e.event_type in STATUS_KINDS and e.asset_key]
    if not changes:
        return
    if not bulk.is_supported():
        _queue_elsewhere(organization_id, changes, deployment_of)
        return
    # One JSON parameter: quoting a single string is far cheaper than six arrays of
    # values for the client-side binding Django uses.
    rows = json.dumps(
        [
            [
                e.event_id,
                deployment_of[e.run_id],
                e.asset_key,
                e.partition,
                STATUS_KINDS[e.event_type],
                e.timestamp.isoformat(),
                step_partition_subset(e),
            ]
            for e in changes
        ],
        separators=(",", ":"),
    )
    log = apps.get_model("runs", "EventLogEntry")._meta.db_table
    q = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(AssetStatusChange._meta.db_table)} (storage_id, organization_id, "
            f"deployment_id, asset_key, {q('partition')}, kind, {q('timestamp')}, "
            "partition_subset) "
            f"SELECT (SELECT e.id FROM {q(log)} e WHERE e.event_id = v->>0), %s, "
            "(v->>1)::bigint, v->>2, v->>3, v->>4, (v->>5)::timestamptz, "
            "CASE WHEN jsonb_typeof(v->6) = 'object' THEN v->6 END "
            "FROM jsonb_array_elements(%s::jsonb) AS v",
            [organization_id, rows],
        )


def _queue_elsewhere(
    organization_id: int, changes: Sequence[ProjectableEvent], deployment_of: Mapping[Any, int]
) -> None:
    """The same on SQLite (``assay dev``): look the ids up, then a multi-row insert."""
    log = apps.get_model("runs", "EventLogEntry")
    ids = dict(
        log.objects.filter(event_id__in=[e.event_id for e in changes]).values_list("event_id", "pk")
    )
    AssetStatusChange.objects.bulk_create(
        [
            AssetStatusChange(
                storage_id=ids[e.event_id],
                organization_id=organization_id,
                deployment_id=deployment_of[e.run_id],
                asset_key=e.asset_key,
                partition=e.partition,
                kind=STATUS_KINDS[e.event_type],
                timestamp=e.timestamp,
                partition_subset=step_partition_subset(e),
            )
            for e in changes
        ],
        batch_size=500,
    )


def queued_changes(*, deployment: Deployment) -> list[StatusChange]:
    """The deployment's changes no tick has folded yet, in event-log order."""
    rows = (
        AssetStatusChange.objects.filter(deployment=deployment)
        .order_by("storage_id")
        .values_list(
            "storage_id", "asset_key", "partition", "kind", "timestamp", "partition_subset"
        )
    )
    return [StatusChange(*row) for row in rows]


def summaries(*, deployment: Deployment, asset_keys: Iterable[str] | None = None) -> dict:
    """``{asset key: Summary}`` for the deployment (or only ``asset_keys``)."""
    rows = AssetStatusSummary.objects.filter(deployment=deployment)
    if asset_keys is not None:
        rows = rows.filter(asset_key__in=list(asset_keys))
    return {
        row[0]: Summary(*row)
        for row in rows.values_list("asset_key", "materialized", "failed", "last_materialized_at")
    }


def save_folded(
    *, deployment: Deployment, folded: Sequence[Summary], consumed: Sequence[int]
) -> None:
    """Store re-folded summaries and drop the queued changes they now contain (caller's
    transaction, the one that also saves the automation cursor)."""
    with transaction.atomic():  # core.bulk stages rows in a table emptied at commit
        if folded:
            _upsert_summaries(deployment, folded)
        for start in range(0, len(consumed), 10_000):
            AssetStatusChange.objects.filter(
                deployment=deployment, storage_id__in=consumed[start : start + 10_000]
            ).delete()


_SUMMARY_COLUMNS = (
    "organization_id",
    "deployment_id",
    "asset_key",
    "materialized",
    "failed",
    "last_materialized_at",
    "updated_at",
)
_SUMMARY_UPDATES = ("materialized", "failed", "last_materialized_at", "updated_at")


def _upsert_summaries(deployment: Deployment, folded: Sequence[Summary]) -> None:
    now = timezone.now()
    rows = [
        (
            deployment.organization_id,
            deployment.pk,
            s.asset_key,
            s.materialized,
            s.failed,
            s.last_materialized_at,
            now,
        )
        for s in folded
    ]
    if bulk.is_supported():
        bulk.insert_rows(
            table=AssetStatusSummary._meta.db_table,
            columns=_SUMMARY_COLUMNS,
            rows=rows,
            conflict_target=["deployment_id", "asset_key"],
            on_conflict="DO UPDATE SET "
            + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in _SUMMARY_UPDATES),
        )
        return
    AssetStatusSummary.objects.bulk_create(
        [AssetStatusSummary(**dict(zip(_SUMMARY_COLUMNS, row, strict=True))) for row in rows],
        update_conflicts=True,
        unique_fields=["deployment", "asset_key"],
        update_fields=list(_SUMMARY_UPDATES),
    )


def materialized_partitions(*, deployment: Deployment, asset_key: str) -> set[str]:
    """Every partition ever materialized or observed (rebuilding a summary; slow path)."""
    found: set[str] = set()
    for model in (Materialization, Observation):
        found.update(
            model.objects.filter(deployment=deployment, asset_key=asset_key)
            .values_list("partition", flat=True)
            .distinct()
        )
    return found


def failed_partitions(*, deployment: Deployment, asset_key: str) -> set[str]:
    """Partitions whose latest outcome is a failure (rebuilding a summary; slow path)."""
    return set(
        AssetPartitionStatus.objects.filter(
            deployment=deployment,
            asset_key=asset_key,
            status=AssetPartitionStatus.Status.FAILED,
        ).values_list("partition", flat=True)
    )


def partitions_materialized_since(
    *, deployment: Deployment, asset_key: str, since: datetime
) -> set[str]:
    """Partitions materialized or observed at or after ``since``."""
    found: set[str] = set()
    for model in (Materialization, Observation):
        found.update(
            model.objects.filter(
                deployment=deployment, asset_key=asset_key, timestamp__gte=since
            ).values_list("partition", flat=True)
        )
    return found


def latest_materialization(
    *, deployment: Deployment, asset_key: str, partition: str
) -> LatestMaterialization | None:
    """The newest materialization (or observation) of one partition ('' when unpartitioned)."""
    latest: LatestMaterialization | None = None
    for model, has_version in ((Materialization, True), (Observation, False)):
        fields = ["event_id", "timestamp", "run_id"] + (["code_version"] if has_version else [])
        row = (
            model.objects.filter(deployment=deployment, asset_key=asset_key, partition=partition)
            .order_by("-timestamp", "-id")
            .values_list(*fields)
            .first()
        )
        if row is not None and (latest is None or row[1] > latest.timestamp):
            latest = LatestMaterialization(
                row[0], row[1], str(row[2]), row[3] if has_version else ""
            )
    return latest
