"""Which partitions each step of a run covers, and which upstream partitions it loads.

Resolved once in the parent process, before any step runs, and stored on the steps
(so multiprocess workers need neither a clock nor the partitions store). The run's
partition key (or range) is read in each partitioned asset's own definition; an
asset for which it is not a key gets the partitions its parents in the run map to
(`AssetIn(partition_mapping=)` or the inferred mapping), so a daily -> monthly run
of "2024-01-15" runs January for the monthly asset.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assay.definitions.asset_key import AssetKey
from assay.errors import PartitionSelectionError
from assay.execution.plan import CHECK, ExecutionPlan, Step
from assay.graph import AssetGraph
from assay.graph_partitions import partition_mapping_for, partitions_def_of
from assay.partitions import (
    AllPartitionMapping,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    PartitionsError,
    PartitionsSubset,
    TimeWindow,
    TimeWindowPartitionsDefinition,
)


@dataclass(frozen=True)
class InputPartitions:
    """The upstream partitions one parameter loads; a dict of them when `as_dict`."""

    keys: tuple[str, ...]
    as_dict: bool


@dataclass(frozen=True)
class StepPartitions:
    """The partitions a step's assets cover in this run (empty: unpartitioned assets).

    `serialized_subset` (`PartitionsSubset.to_serializable()`, set when there are several
    keys) travels in the step's events, so a status store can mark exactly those
    partitions in progress or failed without a row per key in the event.
    """

    keys: tuple[str, ...] = ()
    time_window: TimeWindow | None = None
    inputs: dict[str, InputPartitions] = field(default_factory=dict)
    serialized_subset: dict[str, Any] | None = None

    @property
    def single_key(self) -> str | None:
        return self.keys[0] if len(self.keys) == 1 else None

    @property
    def key_range(self) -> PartitionKeyRange | None:
        return PartitionKeyRange(self.keys[0], self.keys[-1]) if self.keys else None


def requested_keys(
    partitions_def: PartitionsDefinition,
    *,
    partition_key: str | None,
    partition_key_range: PartitionKeyRange | None,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    asset: AssetKey,
) -> list[str]:
    """The run's key or range read in `partitions_def`, validated against it."""
    where = f"asset '{asset}' ({partitions_def.describe()})"
    try:
        if partition_key is not None:
            if isinstance(partitions_def, DynamicPartitionsDefinition) and store is None:
                partitions_def.subset_with_partition_keys([partition_key])
                return [partition_key]
            if not partitions_def.has_partition_key(partition_key, current_time, store):
                raise PartitionSelectionError(
                    f"partition key {partition_key!r} does not exist for {where}"
                    f"{_example(partitions_def, current_time, store)}"
                )
            return [partition_key]
        assert partition_key_range is not None
        if isinstance(partitions_def, TimeWindowPartitionsDefinition):
            keys = partitions_def.get_partition_keys_in_range(partition_key_range)
            last = partitions_def.get_last_partition_key(current_time)
            if last is None or partitions_def.get_index_for_partition_key(
                keys[-1]
            ) > partitions_def.get_index_for_partition_key(last):
                raise PartitionSelectionError(
                    f"partition range ends at {partition_key_range.end!r}, which does not "
                    f"exist yet for {where} (latest: {last!r})"
                )
            return keys
        all_keys = list(partitions_def.get_partition_keys(current_time, store))
        for end in (partition_key_range.start, partition_key_range.end):
            if end not in all_keys:
                raise PartitionSelectionError(
                    f"partition key {end!r} does not exist for {where}"
                    f"{_example(partitions_def, current_time, store)}"
                )
        first = all_keys.index(partition_key_range.start)
        last_index = all_keys.index(partition_key_range.end)
        if last_index < first:
            raise PartitionSelectionError(
                f"partition range {partition_key_range.start!r}..{partition_key_range.end!r} "
                f"ends before it starts for {where}"
            )
        return all_keys[first : last_index + 1]
    except PartitionsError as exc:
        raise PartitionSelectionError(f"asset '{asset}': {exc}") from exc


def request_time_window(
    partitions_defs: Iterable[PartitionsDefinition | None],
    *,
    partition_key: str | None,
    partition_key_range: PartitionKeyRange | None,
    current_time: datetime | None,
) -> TimeWindow | None:
    """The time a request covers, read in the first time-window definition that has its keys
    (so a monthly root asset in a daily backfill runs the months those days touch)."""
    if partition_key is None and partition_key_range is None:
        return None
    for pdef in partitions_defs:
        if not isinstance(pdef, TimeWindowPartitionsDefinition):
            continue
        try:
            keys = requested_keys(
                pdef,
                partition_key=partition_key,
                partition_key_range=partition_key_range,
                current_time=current_time,
                store=None,
                asset=AssetKey("request"),
            )
        except PartitionSelectionError:
            continue
        return time_window_of(pdef, keys)
    return None


def overlapping_subset(
    partitions_def: PartitionsDefinition,
    window: TimeWindow | None,
    current_time: datetime | None,
) -> PartitionsSubset | None:
    """The existing partitions of a time-window definition that overlap `window`, if any."""
    if window is None or not isinstance(partitions_def, TimeWindowPartitionsDefinition):
        return None
    first, stop = partitions_def.index_range_overlapping(window.start, window.end)
    window_subset = partitions_def.subset_with_index_ranges([(first, stop)])
    subset = window_subset & partitions_def.subset_with_all_partitions(current_time)
    return subset or None


def _example(
    partitions_def: PartitionsDefinition,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> str:
    try:
        first = partitions_def.get_first_partition_key(current_time, store)
        last = partitions_def.get_last_partition_key(current_time, store)
    except PartitionsError:
        return ""
    if first is None:
        return ": it has no partitions yet"
    return f": partitions run from {first!r} to {last!r}"


def time_window_of(pdef: PartitionsDefinition | None, keys: Sequence[str]) -> TimeWindow | None:
    """The time `keys` cover: of a time-window definition, or of a multi definition's time
    dimension (date x region); None for partitions with no time."""
    if not keys or not isinstance(pdef, TimeWindowPartitionsDefinition | MultiPartitionsDefinition):
        return None
    return pdef.time_window_for_partition_keys(keys)


def assign_partitions(
    plan: ExecutionPlan,
    *,
    partition_key: str | None = None,
    partition_key_range: PartitionKeyRange | None = None,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> None:
    """Set `step.partitions` on every step of `plan`; raise when the request does not fit."""
    graph = plan.graph
    requested = partition_key is not None or partition_key_range is not None
    if partition_key is not None and partition_key_range is not None:
        raise PartitionSelectionError("pass partition_key= or partition_key_range=, not both")
    if not graph.has_partitions:
        if requested:
            raise PartitionSelectionError(
                "a partition was requested, but none of the selected assets is partitioned"
            )
        return
    store = dynamic_partitions_store
    window = request_time_window(
        (s.assets_def.partitions_def for s in plan.steps if s.assets_def is not None),
        partition_key=partition_key,
        partition_key_range=partition_key_range,
        current_time=current_time,
    )
    subsets: dict[AssetKey, PartitionsSubset] = {}
    any_partitioned = False
    for step in plan.steps:
        subset: PartitionsSubset | None = None
        if step.kind == CHECK:
            owner_key = step.asset_keys[0]
            pdef = partitions_def_of(graph, owner_key)
            subset = subsets.get(owner_key)
            keys = tuple(subset) if subset is not None else ()
        else:
            assets_def = step.assets_def
            assert assets_def is not None
            pdef = assets_def.partitions_def
            keys = ()
            if pdef is not None:
                any_partitioned = True
                subset = _subset_for(
                    graph,
                    step,
                    pdef,
                    subsets,
                    partition_key=partition_key,
                    partition_key_range=partition_key_range,
                    current_time=current_time,
                    store=store,
                    window=window,
                )
                keys = tuple(subset)
                for key in step.asset_keys:
                    subsets[key] = subset
        inputs = _input_partitions(graph, step, pdef, keys, current_time, store)
        if keys or inputs:
            serialized = subset.to_serializable() if subset is not None and len(keys) > 1 else None
            step.partitions = StepPartitions(keys, time_window_of(pdef, keys), inputs, serialized)
    if requested and not any_partitioned:
        raise PartitionSelectionError(
            "a partition was requested, but none of the selected assets is partitioned"
        )


def _subset_for(
    graph: AssetGraph,
    step: Step,
    pdef: PartitionsDefinition,
    subsets: dict[AssetKey, PartitionsSubset],
    *,
    partition_key: str | None,
    partition_key_range: PartitionKeyRange | None,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    window: TimeWindow | None,
) -> PartitionsSubset:
    requested = partition_key is not None or partition_key_range is not None
    if requested:
        try:
            keys = requested_keys(
                pdef,
                partition_key=partition_key,
                partition_key_range=partition_key_range,
                current_time=current_time,
                store=store,
                asset=step.asset_keys[0],
            )
            return pdef.subset_with_partition_keys(keys)
        except PartitionSelectionError:
            # Not a key of this definition (a monthly asset in a daily run): map it below.
            if not any(p in subsets for k in step.asset_keys for p in graph.nodes[k].parents):
                overlap = overlapping_subset(pdef, window, current_time)
                if overlap is None:
                    raise
                return overlap
    derived: PartitionsSubset | None = None
    for key in step.asset_keys:
        for parent in graph.nodes[key].parents:
            parent_subset = subsets.get(parent)
            if parent_subset is None or parent in step.asset_keys:
                continue
            mapping = partition_mapping_for(graph, step.key, pdef, parent)
            mapped = mapping.downstream_partitions_for(
                parent_subset, pdef, current_time=current_time, dynamic_partitions_store=store
            )
            derived = mapped if derived is None else derived | mapped
    if derived is None:
        raise PartitionSelectionError(
            f"asset '{step.asset_keys[0]}' is partitioned ({pdef.describe()}): "
            "pass partition_key= or partition_key_range= (--partition or --from/--to on the CLI)"
        )
    if not derived:
        raise PartitionSelectionError(
            f"asset '{step.asset_keys[0]}' ({pdef.describe()}) has no partition that reads "
            "the run's partitions of its upstream assets"
        )
    return derived


def _input_partitions(
    graph: AssetGraph,
    step: Step,
    pdef: PartitionsDefinition | None,
    keys: tuple[str, ...],
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> dict[str, InputPartitions]:
    out: dict[str, InputPartitions] = {}
    for param, parent in graph.inputs.get(step.key, {}).items():
        parent_def = partitions_def_of(graph, parent)
        if parent_def is None:
            continue
        mapping = partition_mapping_for(graph, step.key, pdef, parent)
        downstream = pdef.subset_with_partition_keys(keys) if pdef is not None else None
        try:
            needed = mapping.upstream_partitions_for(
                downstream, parent_def, current_time=current_time, dynamic_partitions_store=store
            )
            if isinstance(parent_def, TimeWindowPartitionsDefinition):
                needed = needed & parent_def.subset_with_all_partitions(current_time)
        except PartitionsError as exc:
            raise PartitionSelectionError(
                f"'{step.key}' cannot map the partitions of '{parent}': {exc}"
            ) from exc
        upstream_keys = tuple(needed)
        as_dict = len(upstream_keys) != 1 or isinstance(mapping, AllPartitionMapping)
        out[param] = InputPartitions(upstream_keys, as_dict)
    return out


def describe_request(
    partition_key: str | None, partition_key_range: PartitionKeyRange | None
) -> dict[str, Any]:
    """The run's partition request as it appears in the RUN_STARTED payload."""
    if partition_key is not None:
        return {"partition_key": partition_key}
    if partition_key_range is not None:
        return {"partition_key_range": [partition_key_range.start, partition_key_range.end]}
    return {}
