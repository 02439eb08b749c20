"""Every catalog state change: storing snapshots as asset definitions, and projecting events.

Projections run inside the ingest transaction (``runs.ingest``), so the catalog never shows a
materialization the event log does not hold, nor misses one it does.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from django.db import models, transaction
from django.utils import timezone

from assay.errors import AssayError
from assay.execution.events import EventType, StatusEffect, status_effect
from assay.partitions.snapshot import partitions_def_from_snapshot
from assay.snapshot import DefinitionsSnapshot
from control_plane.audit.services import record
from control_plane.catalog import search
from control_plane.catalog.asset_status import queue_status_changes, step_partition_subset
from control_plane.catalog.column_lineage import lineage_rows
from control_plane.catalog.errors import InvalidSnapshot
from control_plane.catalog.models import (
    AssetCheckStatus,
    AssetDefinition,
    AssetPartitionStatus,
    CheckEvaluation,
    LocationSnapshot,
    Materialization,
    Observation,
)
from control_plane.core import bulk
from control_plane.core.context import TenantContext
from control_plane.tenancy.models import CodeLocation, Deployment


def parse_snapshot(*, snapshot_json: bytes | str, snapshot_id: str) -> DefinitionsSnapshot:
    """Read an agent's snapshot; ``InvalidSnapshot`` (nothing stored) when it does not verify."""
    raw = snapshot_json.encode() if isinstance(snapshot_json, str) else snapshot_json
    if hashlib.sha256(raw).hexdigest() != snapshot_id:
        raise InvalidSnapshot("snapshot_id is not the SHA-256 of snapshot_json")
    try:
        return DefinitionsSnapshot.from_json(raw.decode())
    except (AssayError, ValueError, TypeError, KeyError) as error:
        raise InvalidSnapshot(f"snapshot could not be read: {error}") from None


def _location_for_snapshot(
    *, ctx: TenantContext, deployment: Deployment, name: str
) -> CodeLocation:
    """The named location; an agent serving a location registers it on its first snapshot."""
    location = CodeLocation.objects.filter(deployment=deployment, name=name).first()
    if location is not None:
        return location
    location = CodeLocation.objects.create(
        organization=ctx.organization, deployment=deployment, name=name
    )
    record(
        actor=ctx.principal,
        action="code_location.create",
        target=location,
        organization=ctx.organization,
        after={"name": name, "deployment": deployment.name, "registered_by": "agent"},
    )
    return location


def record_location_snapshot(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    location_name: str,
    ok: bool,
    snapshot_json: bytes = b"",
    snapshot_id: str = "",
    snapshot_version: int = 0,
    error: str = "",
    sdk_version: str = "",
    agent_id: str = "",
) -> LocationSnapshot:
    """Make this snapshot the location's current definitions (latest wins; an unchanged
    snapshot id is not re-processed)."""
    parsed = parse_snapshot(snapshot_json=snapshot_json, snapshot_id=snapshot_id) if ok else None
    with transaction.atomic():
        location = _location_for_snapshot(ctx=ctx, deployment=deployment, name=location_name)
        current = (
            LocationSnapshot.objects.select_for_update()
            .filter(code_location=location, is_current=True)
            .first()
        )
        if (
            current is not None
            and ok
            and current.status == LocationSnapshot.Status.OK
            and current.snapshot_id == snapshot_id
        ):
            return current
        if current is not None:
            LocationSnapshot.objects.filter(pk=current.pk).update(is_current=False)
        snapshot = LocationSnapshot.objects.create(
            organization=ctx.organization,
            deployment=deployment,
            code_location=location,
            status=LocationSnapshot.Status.OK if ok else LocationSnapshot.Status.ERROR,
            snapshot_id=snapshot_id if ok else "",
            snapshot_version=snapshot_version if ok else 0,
            snapshot_json=snapshot_json.decode() if ok else "",
            error="" if ok else error[:65536],
            sdk_version=sdk_version[:40],
            agent_id=agent_id,
        )
        if parsed is not None:
            checks: dict[str, list[dict[str, Any]]] = {}
            for check in parsed.checks:
                checks.setdefault(check.asset_key, []).append(
                    {"name": check.name, "blocking": check.blocking}
                )
            AssetDefinition.objects.bulk_create(
                [
                    AssetDefinition(
                        organization=ctx.organization,
                        deployment=deployment,
                        code_location=location,
                        snapshot=snapshot,
                        asset_key=asset.key,
                        deps=list(asset.deps),
                        group=asset.group or "",
                        is_external=asset.is_external,
                        is_observable=asset.is_observable,
                        is_partitioned=asset.partitions is not None,
                        partitions=asset.partitions,
                        code_version=asset.code_version or "",
                        checks=checks.get(asset.key, []),
                        description=asset.description or "",
                        owners=list(asset.owners),
                        tags=dict(asset.tags),
                        kinds=list(asset.kinds),
                        metadata=_small(asset.metadata),
                        column_lineage=lineage_rows(asset.column_lineage),
                        **search.search_fields(
                            key=asset.key,
                            description=asset.description or "",
                            group=asset.group or "",
                            owners=asset.owners,
                            kinds=asset.kinds,
                            tags=asset.tags,
                            metadata=asset.metadata,
                        ),
                    )
                    for asset in parsed.assets
                ]
            )
            search.index_snapshot(snapshot_pk=snapshot.pk)
        CodeLocation.objects.filter(pk=location.pk).update(updated_at=timezone.now())
    return snapshot


class ProjectableEvent(Protocol):
    """What a projection needs from an event-log entry (``runs.EventLogEntry``)."""

    event_id: str
    event_type: str
    run_id: Any
    asset_key: str
    partition: str
    timestamp: Any
    payload: dict[str, Any]


def _small(metadata: Any) -> dict[str, Any]:
    """Metadata as the agent capped it; anything that is not a JSON object is dropped."""
    return metadata if isinstance(metadata, dict) else {}


def _partitions_of_steps(
    steps: list[tuple[dict[str, Any], dict[str, Any]]],
) -> Iterable[tuple[dict[str, Any], str]]:
    """Each partition key a multi-partition step covered, read with the asset's current
    definition (one query for the batch; a subset that no longer fits it is skipped)."""
    if not steps:
        return
    wanted = {(c["deployment_id"], c["asset_key"]) for c, _ in steps}
    definitions = {
        (deployment_id, key): data
        for deployment_id, key, data in AssetDefinition.objects.filter(
            snapshot__is_current=True,
            deployment_id__in={d for d, _ in wanted},
            asset_key__in={k for _, k in wanted},
        ).values_list("deployment_id", "asset_key", "partitions")
        if data
    }
    for common, subset in steps:
        data = definitions.get((common["deployment_id"], common["asset_key"]))
        if data is None:
            continue
        try:
            keys = list(partitions_def_from_snapshot(data).subset_from_serializable(subset))
        except (AssayError, KeyError, TypeError, ValueError):
            continue
        for key in keys:
            yield common, key


def project_events(
    *, ctx: TenantContext, events: Iterable[ProjectableEvent], deployment_of: Mapping[Any, int]
) -> list[CheckEvaluation]:
    """Update the catalog projections for newly ingested events (caller's transaction).

    Returns the check evaluations it recorded, for the caller's alert triggers.
    """
    events = list(events)
    org = ctx.organization
    materializations: list[Materialization] = []
    observations: list[Observation] = []
    evaluations: list[CheckEvaluation] = []
    partitions: dict[tuple[int, str, str], AssetPartitionStatus] = {}
    checks: dict[tuple[int, str, str], AssetCheckStatus] = {}
    failed_steps: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for event in events:
        if not event.asset_key:
            continue
        deployment_id = deployment_of[event.run_id]
        common = {
            "organization_id": org.pk,
            "deployment_id": deployment_id,
            "asset_key": event.asset_key,
            "run_id": event.run_id,
            "event_id": event.event_id,
            "timestamp": event.timestamp,
        }
        payload = event.payload.get("payload") or {}
        kind = event.event_type
        if kind == EventType.ASSET_MATERIALIZATION:
            materializations.append(
                Materialization(
                    **common,
                    partition=event.partition,
                    metadata=_small(payload.get("metadata")),
                    data_version=str(payload.get("data_version") or "")[:200],
                    code_version=str(payload.get("code_version") or "")[:200],
                )
            )
        elif kind == EventType.ASSET_OBSERVATION:
            observations.append(
                Observation(
                    **common,
                    partition=event.partition,
                    metadata=_small(payload.get("metadata")),
                    data_version=str(payload.get("data_version") or "")[:200],
                )
            )
        elif kind == EventType.ASSET_CHECK_EVALUATION:
            name = str(payload.get("check_name") or "")[:200]
            evaluation = CheckEvaluation(
                **common,
                check_name=name,
                partition=event.partition,
                passed=bool(payload.get("passed")),
                severity=str(payload.get("severity") or "ERROR")[:10],
                blocking=bool(payload.get("blocking")),
                metadata=_small(payload.get("metadata")),
            )
            evaluations.append(evaluation)
            checks[(deployment_id, event.asset_key, name)] = AssetCheckStatus(
                **common, check_name=name, passed=evaluation.passed, severity=evaluation.severity
            )
        effect = status_effect(kind)
        if effect is StatusEffect.MATERIALIZED:
            status = AssetPartitionStatus.Status.MATERIALIZED
        elif effect is StatusEffect.FAILED:
            subset = step_partition_subset(event)
            if subset is not None:  # a step over several partitions: each of them failed
                failed_steps.append((common, subset))
                continue
            status = AssetPartitionStatus.Status.FAILED
        else:
            continue
        partitions[(deployment_id, event.asset_key, event.partition)] = AssetPartitionStatus(
            **common, partition=event.partition, status=status
        )
    for common, key in _partitions_of_steps(failed_steps):
        partitions[(common["deployment_id"], common["asset_key"], key)] = AssetPartitionStatus(
            **common, partition=key, status=AssetPartitionStatus.Status.FAILED
        )
    _save_all(Materialization, materializations, unique=["event_id"])
    _save_all(Observation, observations, unique=["event_id"])
    _save_all(CheckEvaluation, evaluations, unique=["event_id"])
    _save_all(
        AssetPartitionStatus,
        list(partitions.values()),
        unique=["deployment", "asset_key", "partition"],
        update=["status", "run_id", "event_id", "timestamp"],
    )
    _save_all(
        AssetCheckStatus,
        list(checks.values()),
        unique=["deployment", "asset_key", "check_name"],
        update=["passed", "severity", "run_id", "event_id", "timestamp"],
    )
    queue_status_changes(organization_id=org.pk, events=events, deployment_of=deployment_of)
    return evaluations


def _save_all(
    model: type[models.Model],
    objects: list[models.Model],
    *,
    unique: list[str],
    update: list[str] | None = None,
) -> None:
    """Insert (or, with ``update``, upsert) projection rows: ``core.bulk`` on PostgreSQL."""
    if not objects:
        return
    if not bulk.is_supported():
        if update:
            model.objects.bulk_create(
                objects, update_conflicts=True, unique_fields=unique, update_fields=update
            )
        else:
            model.objects.bulk_create(objects, ignore_conflicts=True)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]

    def value(field: models.Field, obj: models.Model) -> Any:
        raw = getattr(obj, field.attname)
        return json.dumps(raw) if isinstance(field, models.JSONField) else raw

    columns = [f.column for f in fields]
    rows = [[value(f, obj) for f in fields] for obj in objects]
    if not update and bulk.copy_rows(table=meta.db_table, columns=columns, rows=rows):
        return  # rows of events just inserted are new: no conflict check needed
    updates = [meta.get_field(name).column for name in update or []]
    bulk.insert_rows(
        table=meta.db_table,
        columns=columns,
        rows=rows,
        conflict_target=[meta.get_field(name).column for name in unique],
        on_conflict="DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in updates)
        if updates
        else "DO NOTHING",
    )
