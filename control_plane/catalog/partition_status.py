"""Partition status of an asset: how many partitions exist, are materialized, failed or
missing; and whether a partition key exists, for validating launches."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from assay.partitions.base import PartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition
from assay.partitions.snapshot import partitions_def_from_snapshot
from control_plane.catalog.models import AssetPartitionStatus


class PartitionKeys:
    """Partition keys of stored definitions, computed once per distinct definition (many
    assets share one daily partitioning) at one ``now``."""

    def __init__(self, now: datetime) -> None:
        self.now = now
        self._keys: dict[str, frozenset[str] | None] = {}

    def keys(self, partitions: dict[str, Any] | None) -> frozenset[str] | None:
        """Every key that exists now; None when unknown here (dynamic partitions)."""
        if not partitions:
            return None
        cache_key = json.dumps(partitions, sort_keys=True)
        if cache_key not in self._keys:
            self._keys[cache_key] = self._compute(partitions)
        return self._keys[cache_key]

    def _compute(self, partitions: dict[str, Any]) -> frozenset[str] | None:
        if _is_dynamic(partitions):
            return None  # the control plane does not store dynamic partitions yet
        try:
            definition: PartitionsDefinition = partitions_def_from_snapshot(partitions)
            return frozenset(definition.get_partition_keys(current_time=self.now))
        except (InvalidPartitionsDefinition, KeyError, TypeError, ValueError):
            return None


def _is_dynamic(partitions: dict[str, Any]) -> bool:
    if partitions.get("type") == "dynamic":
        return True
    dimensions = partitions.get("dimensions") or {}
    return any(_is_dynamic(d) for d in dimensions.values() if isinstance(d, dict))


def summarize_partitions(
    statuses: Iterable[AssetPartitionStatus], keys: frozenset[str] | None = None
) -> dict[str, Any]:
    """Counts by latest outcome, and the failed keys (few, and what a person acts on).
    With the existing ``keys``: also the total and how many were never materialized."""
    materialized = 0
    failed: list[str] = []
    for status in statuses:
        if keys is not None and status.partition not in keys:
            continue  # a key that no longer exists (e.g. a shortened static list)
        if status.status == AssetPartitionStatus.Status.MATERIALIZED:
            materialized += 1
        else:
            failed.append(status.partition)
    total = len(keys) if keys is not None else None
    return {
        "total": total,
        "materialized": materialized,
        "failed": len(failed),
        "missing": total - materialized - len(failed) if total is not None else None,
        "failed_keys": sorted(failed)[:100],
    }
