"""The read-only status view automation reads, and an in-memory implementation.

A status view answers, per asset, which partitions are materialized, in progress or
failed, and which changed after a point in the event log (a *storage id*). The
SQLite instance implements it from its projections; :class:`InMemoryStatusView`
holds subsets directly, for tests and benchmarks.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from assay.automation.subsets import (
    ALL_UNPARTITIONED,
    AssetSubset,
    empty_subset,
    subtract,
    union,
)
from assay.definitions.asset_key import AssetKey
from assay.partitions import PartitionsDefinition


@dataclass(frozen=True)
class MaterializationRecord:
    """The latest materialization of one asset partition."""

    asset_key: AssetKey
    partition: str | None
    storage_id: int
    timestamp: float
    run_id: str | None
    code_version: str | None


@runtime_checkable
class StatusView(Protocol):
    """What automation may know about the world: read-only, as of one storage id."""

    def latest_storage_id(self) -> int:
        """The position of the newest fact in the event log (0 when empty)."""
        ...

    def changed_asset_keys(self, *, after_storage_id: int) -> set[AssetKey]:
        """Assets whose status (materialized, in progress, failed) changed after that id."""
        ...

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        """Partitions materialized (or observed) at least once."""
        ...

    def updated_subset(
        self,
        key: AssetKey,
        partitions_def: PartitionsDefinition | None,
        *,
        after_storage_id: int,
    ) -> AssetSubset:
        """Partitions whose latest materialization has a storage id above ``after_storage_id``."""
        ...

    def updated_since_time(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, *, timestamp: float
    ) -> AssetSubset:
        """Partitions whose latest materialization happened at or after ``timestamp``."""
        ...

    def in_progress_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        """Partitions a run has started and not finished."""
        ...

    def failed_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        """Partitions whose latest run attempt failed (cleared by a later materialization)."""
        ...

    def latest_materialization(
        self, key: AssetKey, partition: str | None = None
    ) -> MaterializationRecord | None:
        """The latest materialization of one partition, with time, run id and code version."""
        ...


@dataclass
class _Update:
    storage_id: int
    timestamp: float
    subset: AssetSubset


@dataclass
class _AssetStatus:
    materialized: AssetSubset
    in_progress: AssetSubset
    failed: AssetSubset
    updates: list[_Update] = field(default_factory=list)
    records: dict[str | None, MaterializationRecord] = field(default_factory=dict)


class InMemoryStatusView:
    """A status view held as subsets: cheap to build for 10,000 assets x 730 partitions.

    Each ``record_*`` call is one fact with the next storage id. Per-partition records
    (run id, code version) are kept only when ``keep_records=True`` (the default),
    because a benchmark recording millions of partitions does not need them.
    """

    def __init__(self, *, keep_records: bool = True) -> None:
        self._assets: dict[AssetKey, _AssetStatus] = {}
        self._storage_id = 0
        self._changes: list[tuple[int, AssetKey]] = []
        self._keep_records = keep_records

    # -- writing ---------------------------------------------------------------------
    def _status(self, key: AssetKey, subset: AssetSubset) -> _AssetStatus:
        """The asset's entry, created on first use with the shape of ``subset``."""
        status = self._assets.get(key)
        if status is None:
            empty = empty_subset(subset.partitions_def)
            status = self._assets[key] = _AssetStatus(empty, empty, empty)
        return status

    def _next_id(self, key: AssetKey) -> int:
        self._storage_id += 1
        self._changes.append((self._storage_id, key))
        return self._storage_id

    def record_materialization(
        self,
        key: AssetKey,
        subset: AssetSubset | None = None,
        *,
        timestamp: float,
        run_id: str | None = None,
        code_version: str | None = None,
    ) -> int:
        """Record that ``subset`` of ``key`` was materialized (None: the unpartitioned asset)."""
        subset = ALL_UNPARTITIONED if subset is None else subset
        status = self._status(key, subset)
        storage_id = self._next_id(key)
        status.materialized = union(status.materialized, subset)
        status.in_progress = subtract(status.in_progress, subset)
        status.failed = subtract(status.failed, subset)
        status.updates.append(_Update(storage_id, timestamp, subset))
        if self._keep_records:
            for partition in subset:
                status.records[partition] = MaterializationRecord(
                    key, partition, storage_id, timestamp, run_id, code_version
                )
        return storage_id

    def record_in_progress(self, key: AssetKey, subset: AssetSubset | None = None) -> int:
        """Record that a run started on ``subset`` of ``key`` (None: unpartitioned)."""
        subset = ALL_UNPARTITIONED if subset is None else subset
        status = self._status(key, subset)
        status.in_progress = union(status.in_progress, subset)
        return self._next_id(key)

    def record_failure(self, key: AssetKey, subset: AssetSubset | None = None) -> int:
        """Record that the run on ``subset`` of ``key`` failed (None: unpartitioned)."""
        subset = ALL_UNPARTITIONED if subset is None else subset
        status = self._status(key, subset)
        status.in_progress = subtract(status.in_progress, subset)
        status.failed = union(status.failed, subset)
        return self._next_id(key)

    # -- reading (StatusView) ----------------------------------------------------------
    def latest_storage_id(self) -> int:
        return self._storage_id

    def changed_asset_keys(self, *, after_storage_id: int) -> set[AssetKey]:
        start = bisect.bisect_right(self._changes, after_storage_id, key=lambda c: c[0])
        return {key for _, key in self._changes[start:]}

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        status = self._assets.get(key)
        return empty_subset(partitions_def) if status is None else status.materialized

    def updated_subset(
        self,
        key: AssetKey,
        partitions_def: PartitionsDefinition | None,
        *,
        after_storage_id: int,
    ) -> AssetSubset:
        result = empty_subset(partitions_def)
        status = self._assets.get(key)
        if status is None:
            return result
        for update in reversed(status.updates):
            if update.storage_id <= after_storage_id:
                break
            result = union(result, update.subset)
        return result

    def updated_since_time(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, *, timestamp: float
    ) -> AssetSubset:
        result = empty_subset(partitions_def)
        status = self._assets.get(key)
        if status is None:
            return result
        for update in status.updates:
            if update.timestamp >= timestamp:
                result = union(result, update.subset)
        return result

    def in_progress_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        status = self._assets.get(key)
        return empty_subset(partitions_def) if status is None else status.in_progress

    def failed_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        status = self._assets.get(key)
        return empty_subset(partitions_def) if status is None else status.failed

    def latest_materialization(
        self, key: AssetKey, partition: str | None = None
    ) -> MaterializationRecord | None:
        status = self._assets.get(key)
        return None if status is None else status.records.get(partition)
