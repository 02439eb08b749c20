"""Partition status of an asset: how many partitions exist, are materialized, failed or
missing; and whether a partition key exists, for validating launches."""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db.models import Case, Count, F, IntegerField, Q, QuerySet, Value, When, Window
from django.db.models.functions import RowNumber

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.dynamic import DynamicPartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition
from assay.partitions.multi import MultiPartitionsDefinition
from assay.partitions.snapshot import partitions_def_from_snapshot
from control_plane.catalog.models import AssetDefinition, AssetPartitionStatus

if TYPE_CHECKING:
    from control_plane.tenancy.models import Deployment

# "Did you mean" compares a wrong key with every key: not with millions of minutes.
MAX_KEYS_TO_SUGGEST_FROM = 100_000


def has_dynamic_partitions(definition: PartitionsDefinition | None) -> bool:
    """Whether the keys (or one dimension's keys) are dynamic partitions. Agents hold none,
    so a run over them names one key: they cannot tell which keys lie between two."""
    if isinstance(definition, MultiPartitionsDefinition):
        return any(
            isinstance(d.partitions_def, DynamicPartitionsDefinition)
            for d in definition.partitions_dimensions
        )
    return isinstance(definition, DynamicPartitionsDefinition)


@dataclass(frozen=True)
class ExistingPartitions:
    """The partitions of one definition that exist at ``now``, asked of the SDK (keys are
    never listed to answer ``in`` or ``len``)."""

    definition: PartitionsDefinition
    now: datetime
    dynamic_partitions: DynamicPartitionsStore

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.definition.has_partition_key(
            key, self.now, self.dynamic_partitions
        )

    def __len__(self) -> int:
        return self.definition.get_num_partitions(self.now, self.dynamic_partitions)

    @property
    def is_dynamic(self) -> bool:
        return has_dynamic_partitions(self.definition)

    def close_matches(self, key: str) -> list[str]:
        """Up to three existing keys that look like ``key``."""
        if len(self) > MAX_KEYS_TO_SUGGEST_FROM:
            return []
        keys = self.definition.get_partition_keys(self.now, self.dynamic_partitions)
        return difflib.get_close_matches(key, [str(k) for k in keys], n=3, cutoff=0.6)


class PartitionKeys:
    """The existing partitions of stored definitions at one ``now``, each definition rebuilt
    once (many assets share one daily partitioning); dynamic keys come from
    ``dynamic_partitions`` (the deployment's store)."""

    def __init__(self, now: datetime, dynamic_partitions: DynamicPartitionsStore) -> None:
        self.now = now
        self.dynamic_partitions = dynamic_partitions
        self._existing: dict[str, ExistingPartitions | None] = {}

    def keys(self, partitions: dict[str, Any] | None) -> ExistingPartitions | None:
        """The partitions that exist now; None when the stored definition cannot be rebuilt
        here (a kind this control plane's SDK does not know)."""
        if not partitions:
            return None
        cache_key = json.dumps(partitions, sort_keys=True)
        if cache_key not in self._existing:
            try:
                definition = partitions_def_from_snapshot(partitions)
            except (InvalidPartitionsDefinition, KeyError, TypeError, ValueError):
                self._existing[cache_key] = None
            else:
                self._existing[cache_key] = ExistingPartitions(
                    definition, self.now, self.dynamic_partitions
                )
        return self._existing[cache_key]


MAX_FAILED_KEYS = 100  # failed keys listed per asset: what a person acts on


@dataclass
class PartitionOutcomes:
    """What the catalog records of one asset's partitions, as the assets API shows it."""

    latest_materialization: dict[str, Any] | None = None
    summary: dict[str, Any] | None = None  # partitioned assets only


def partition_outcomes(
    *, deployment: Deployment, definitions: Sequence[AssetDefinition], keys: PartitionKeys
) -> dict[str, PartitionOutcomes]:
    """Each asset's latest materialization and, when partitioned, its partitions by latest
    outcome: counts, the first failed keys, and (with the existing keys) the total and how
    many were never materialized. The database aggregates: four queries and a few rows per
    asset, however long the history (10,000 assets x 730 days is 7 million rows)."""
    outcomes = {d.asset_key: PartitionOutcomes() for d in definitions}
    rows = AssetPartitionStatus.objects.filter(deployment=deployment).order_by()
    newest_first = Window(
        RowNumber(),
        partition_by=[F("asset_key")],
        order_by=[F("timestamp").desc(), F("pk").desc()],
    )
    latest = (
        rows.filter(asset_key__in=list(outcomes), status=AssetPartitionStatus.Status.MATERIALIZED)
        .annotate(place=newest_first)
        .filter(place=1)
        .values_list("asset_key", "run_id", "partition", "timestamp")
    )
    for asset_key, run_id, partition, timestamp in latest:
        outcomes[asset_key].latest_materialization = {
            "run_id": str(run_id),
            "partition": partition or None,
            "timestamp": timestamp.isoformat(),
        }
    partitionings: dict[int, tuple[ExistingPartitions | None, list[str]]] = {}
    for d in definitions:
        if d.is_partitioned:
            existing = keys.keys(d.partitions)  # one object per distinct partitioning
            partitionings.setdefault(id(existing), (existing, []))[1].append(d.asset_key)
    if not partitionings:
        return outcomes
    groups = list(partitionings.values())
    counted = rows.filter(asset_key__in=[k for _, asset_keys in groups for k in asset_keys])
    gone = _gone(counted, groups)
    if gone is not None:
        counted = counted.exclude(gone)
    counts: dict[str, dict[str, int]] = {}
    for asset_key, status, n in (
        counted.values("asset_key", "status")
        .annotate(n=Count("pk"))
        .values_list("asset_key", "status", "n")
    ):
        counts.setdefault(asset_key, {})[status] = n
    first_keys = Window(RowNumber(), partition_by=[F("asset_key")], order_by=F("partition").asc())
    failed_keys: dict[str, list[str]] = {}
    for asset_key, partition in (
        counted.filter(status=AssetPartitionStatus.Status.FAILED)
        .annotate(place=first_keys)
        .filter(place__lte=MAX_FAILED_KEYS)
        .values_list("asset_key", "partition")
    ):
        failed_keys.setdefault(asset_key, []).append(partition)
    for existing, asset_keys in groups:
        total = len(existing) if existing is not None else None
        for asset_key in asset_keys:
            materialized = counts.get(asset_key, {}).get(
                AssetPartitionStatus.Status.MATERIALIZED, 0
            )
            failed = counts.get(asset_key, {}).get(AssetPartitionStatus.Status.FAILED, 0)
            outcomes[asset_key].summary = {
                "total": total,
                "materialized": materialized,
                "failed": failed,
                "missing": total - materialized - failed if total is not None else None,
                "failed_keys": sorted(failed_keys.get(asset_key, [])),
            }
    return outcomes


def _gone(
    rows: QuerySet[AssetPartitionStatus],
    groups: list[tuple[ExistingPartitions | None, list[str]]],
) -> Q | None:
    """The rows of keys that no longer exist (a shortened static list, a later start), which
    are not counted: the SDK is asked about each distinct stored key of each partitioning
    (hundreds), not about each row (millions). ``None`` when there are none."""
    grouping = Case(
        *[
            When(asset_key__in=asset_keys, then=Value(i))
            for i, (existing, asset_keys) in enumerate(groups)
            if existing is not None  # keys unknown here: every row counts
        ],
        output_field=IntegerField(),
    )
    stale: dict[int, list[str]] = {}
    stored = rows.annotate(grouping=grouping).values_list("grouping", "partition").distinct()
    for i, partition in stored:
        existing = groups[i][0] if i is not None else None
        if existing is not None and partition not in existing:
            stale.setdefault(i, []).append(partition)
    if not stale:
        return None
    gone = Q()
    for i, partitions in stale.items():
        gone |= Q(asset_key__in=groups[i][1], partition__in=partitions)
    return gone
