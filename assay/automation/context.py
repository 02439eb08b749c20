"""What a condition may read while it is evaluated: one tick, one asset.

:class:`TickContext` caches status reads per asset for the whole tick (a parent's
missing subset is computed once, however many children ask) and collects what this
tick requests, which ``will_be_requested`` and the deps operands read.
:class:`AssetContext` is one asset's view of it, plus the asset's node memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.automation.status import StatusView
from assay.automation.subsets import (
    AssetSubset,
    all_subset,
    empty_subset,
    latest_window_subset,
    map_to_child,
    same,
    subtract,
)
from assay.definitions.asset_key import AssetKey
from assay.partitions import DynamicPartitionsStore, PartitionMapping, PartitionsDefinition


@dataclass(frozen=True)
class Dependency:
    """One edge into an asset: the parent, its partitions and how they map."""

    key: AssetKey
    partitions_def: PartitionsDefinition | None
    mapping: PartitionMapping


class TickContext:
    """Everything shared by all assets in one evaluation (one tick)."""

    def __init__(
        self,
        *,
        status: StatusView,
        evaluation_time: datetime,
        previous_evaluation_time: datetime | None,
        previous_storage_id: int | None,
        partitions_defs: Mapping[AssetKey, PartitionsDefinition | None],
        previous_requested: Mapping[AssetKey, AssetSubset],
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> None:
        self.status = status
        self.dynamic_partitions_store = dynamic_partitions_store
        self.evaluation_time = evaluation_time
        self.previous_evaluation_time = previous_evaluation_time
        self.previous_storage_id = previous_storage_id
        self.partitions_defs = partitions_defs
        self.previous_requested = previous_requested
        self.requested: dict[AssetKey, AssetSubset] = {}
        self._all: dict[Any, AssetSubset] = {}
        self._latest: dict[Any, AssetSubset] = {}
        self._cache: dict[tuple[str, AssetKey], AssetSubset] = {}

    def all_subset(self, partitions_def: PartitionsDefinition | None) -> AssetSubset:
        """Partitions that exist now, shared by every asset with an equal definition."""
        subset = self._all.get(partitions_def)
        if subset is None:
            subset = self._all[partitions_def] = all_subset(
                partitions_def, self.evaluation_time, self.dynamic_partitions_store
            )
        return subset

    def latest_window(self, partitions_def: PartitionsDefinition | None) -> AssetSubset:
        subset = self._latest.get(partitions_def)
        if subset is None:
            subset = latest_window_subset(
                partitions_def, self.evaluation_time, self.dynamic_partitions_store
            )
            self._latest[partitions_def] = subset
        return subset

    def materialized(self, key: AssetKey) -> AssetSubset:
        found = self._cache.get(("materialized", key))
        if found is None:
            found = self.status.materialized_subset(key, self.partitions_defs[key])
            self._cache[("materialized", key)] = found
        return found

    def missing(self, key: AssetKey) -> AssetSubset:
        found = self._cache.get(("missing", key))
        if found is None:
            pd = self.partitions_defs[key]
            found = subtract(self.all_subset(pd), self.materialized(key))
            self._cache[("missing", key)] = found
        return found

    def in_progress(self, key: AssetKey) -> AssetSubset:
        found = self._cache.get(("in_progress", key))
        if found is None:
            found = self.status.in_progress_subset(key, self.partitions_defs[key])
            self._cache[("in_progress", key)] = found
        return found

    def failed(self, key: AssetKey) -> AssetSubset:
        found = self._cache.get(("failed", key))
        if found is None:
            found = self.status.failed_subset(key, self.partitions_defs[key])
            self._cache[("failed", key)] = found
        return found

    def newly_updated(self, key: AssetKey) -> AssetSubset:
        """Updated since the previous tick; nothing on the very first tick."""
        found = self._cache.get(("updated", key))
        if found is None:
            pd = self.partitions_defs[key]
            if self.previous_storage_id is None:
                found = empty_subset(pd)
            else:
                found = self.status.updated_subset(
                    key, pd, after_storage_id=self.previous_storage_id
                )
            self._cache[("updated", key)] = found
        return found

    def will_be_requested(self, key: AssetKey) -> AssetSubset:
        found = self.requested.get(key)
        return empty_subset(self.partitions_defs[key]) if found is None else found


class AssetContext:
    """One asset's view of the tick, and the memory of its stateful nodes."""

    def __init__(
        self,
        tick: TickContext,
        *,
        key: AssetKey,
        partitions_def: PartitionsDefinition | None,
        dependencies: tuple[Dependency, ...],
        code_version: str | None,
        previous_code_version: str | None,
        has_previous_evaluation: bool,
        previous_state: Mapping[str, AssetSubset],
    ) -> None:
        self.tick = tick
        self.key = key
        self.partitions_def = partitions_def
        self.dependencies = dependencies
        self.code_version = code_version
        self.previous_code_version = previous_code_version
        self.has_previous_evaluation = has_previous_evaluation
        self._previous_state = previous_state
        self.state: dict[str, AssetSubset] = dict(previous_state)
        self.stable = True

    @property
    def evaluation_time(self) -> datetime:
        return self.tick.evaluation_time

    @property
    def all_subset(self) -> AssetSubset:
        return self.tick.all_subset(self.partitions_def)

    @property
    def empty_subset(self) -> AssetSubset:
        return empty_subset(self.partitions_def)

    def mark_unstable(self) -> None:
        """Something transient happened: look at this asset again next tick."""
        self.stable = False

    def node_state(self, path: str) -> AssetSubset:
        found = self.state.get(path)
        return self.empty_subset if found is None else found

    def set_node_state(self, path: str, value: AssetSubset, previous: AssetSubset) -> None:
        if not same(value, previous):
            self.stable = False
        if value:
            self.state[path] = value
        else:
            self.state.pop(path, None)

    def from_parent(self, dependency: Dependency, subset: AssetSubset) -> AssetSubset:
        """This asset's partitions that read any of ``subset`` of the parent."""
        return map_to_child(
            subset,
            parent_def=dependency.partitions_def,
            child_def=self.partitions_def,
            mapping=dependency.mapping,
            child_all=self.all_subset,
            current_time=self.tick.evaluation_time,
            dynamic_partitions_store=self.tick.dynamic_partitions_store,
        )
