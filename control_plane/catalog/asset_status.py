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

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from django.apps import apps
from django.db import connection, transaction
from django.utils import timezone

from control_plane.catalog.models import (
    AssetPartitionStatus,
    AssetStatusChange,
    AssetStatusSummary,
    Materialization,
    Observation,
)
from control_plane.core import bulk
from control_plane.tenancy.models import Deployment

MATERIALIZED_EVENTS = ("asset_materialization", "asset_observation")
FAILED_EVENT = "step_failed"


@dataclass(frozen=True, slots=True)
class StatusChange:
    """One queued change: ``kind`` is ``m`` (materialized or observed) or ``f`` (failed)."""

    storage_id: int
    asset_key: str
    partition: str
    kind: str
    timestamp: datetime


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


def queue_status_changes(*, event_ids: Sequence[str]) -> None:
    """Queue the status-changing events among ``event_ids`` (just inserted into the event
    log, in the caller's transaction) for the next automation tick: one statement."""
    if not event_ids:
        return
    log = apps.get_model("runs", "EventLogEntry")._meta.db_table
    runs = apps.get_model("runs", "Run")._meta.db_table
    q = connection.ops.quote_name
    if connection.vendor == "postgresql":
        where, params = "e.event_id = ANY(%s)", [list(event_ids)]
    else:
        where, params = f"e.event_id IN ({', '.join(['%s'] * len(event_ids))})", list(event_ids)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {q(AssetStatusChange._meta.db_table)} "
            f"(storage_id, organization_id, deployment_id, asset_key, {q('partition')}, kind, "
            f"{q('timestamp')}) "
            f"SELECT e.id, e.organization_id, r.deployment_id, e.asset_key, e.{q('partition')}, "
            f"CASE WHEN e.event_type = %s THEN 'f' ELSE 'm' END, e.{q('timestamp')} "
            f"FROM {q(log)} e JOIN {q(runs)} r ON r.id = e.run_id "
            f"WHERE {where} AND e.asset_key <> '' AND e.event_type IN (%s, %s, %s)",
            [FAILED_EVENT, *params, *MATERIALIZED_EVENTS, FAILED_EVENT],
        )


def queued_changes(*, deployment: Deployment) -> list[StatusChange]:
    """The deployment's changes no tick has folded yet, in event-log order."""
    rows = (
        AssetStatusChange.objects.filter(deployment=deployment)
        .order_by("storage_id")
        .values_list("storage_id", "asset_key", "partition", "kind", "timestamp")
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
