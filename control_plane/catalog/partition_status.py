"""Partition status of an asset: how many partitions exist, are materialized, failed or
missing; and whether a partition key exists, for validating launches."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.dynamic import DynamicPartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition
from assay.partitions.multi import MultiPartitionsDefinition
from assay.partitions.snapshot import partitions_def_from_snapshot
from control_plane.catalog.models import AssetPartitionStatus

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


def summarize_partitions(
    statuses: Iterable[AssetPartitionStatus], keys: ExistingPartitions | None = None
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
