"""Planning a backfill: which runs to launch, in what order, each waiting for what.

Pure: from an asset graph, a selection and a partition range (or "everything not
yet materialized" according to a status view) to an ordered list of runs.

Assets that share a partitions definition, a backfill policy and the partitions to
backfill run together, a chunk of partitions per run (`BackfillPolicy.multi_run(n)`:
n per run; the default is one; `single_run()`: one run per contiguous range).
Each run waits only for the runs holding the upstream partitions it reads, so a
failed Jan 15 blocks the Jan 15 runs downstream and nothing else. A chain that
leaves a group and comes back (daily -> unpartitioned -> daily) is split into
successive groups so runs never wait on each other in a circle.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetsDefinition
from assay.errors import AssayError, PartitionSelectionError
from assay.execution.partitions import overlapping_subset, request_time_window, requested_keys
from assay.graph import AssetGraph
from assay.graph_partitions import partition_mapping_for
from assay.partitions import (
    BackfillPolicy,
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    IdentityPartitionMapping,
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    PartitionsSubset,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    TimeWindowPartitionsSubset,
)
from assay.selection import Selection, select_keys

DEFAULT_POLICY = BackfillPolicy.multi_run(1)


class BackfillPlanError(AssayError):
    """The backfill cannot be planned (e.g. its runs would wait on each other in a circle)."""


class MaterializedPartitions(Protocol):
    """What a planner of "all missing partitions" needs from a status view."""

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> Any:
        """The partitions of `key` materialized at least once (truthy when an
        unpartitioned asset was); supports `in` and iteration."""
        ...


@dataclass(frozen=True)
class BackfillRun:
    """One run: these assets, for these partitions (none: unpartitioned)."""

    asset_keys: tuple[AssetKey, ...]
    partition_keys: tuple[str, ...]
    depends_on: tuple[int, ...]

    @property
    def partition_key(self) -> str | None:
        return self.partition_keys[0] if len(self.partition_keys) == 1 else None

    @property
    def partition_key_range(self) -> PartitionKeyRange | None:
        if len(self.partition_keys) < 2:
            return None
        return PartitionKeyRange(self.partition_keys[0], self.partition_keys[-1])

    def describe(self) -> str:
        """`daily_metrics, churn [2024-01-15]`: for progress lines and skip reasons."""
        names = ", ".join(k.to_user_string() for k in self.asset_keys[:3])
        if len(self.asset_keys) > 3:
            names += f" +{len(self.asset_keys) - 3}"
        keys = self.partition_keys
        if not keys:
            return names
        span = keys[0] if len(keys) == 1 else f"{keys[0]}..{keys[-1]}"
        return f"{names} [{span}]"


@dataclass(frozen=True)
class BackfillPlan:
    """Runs in launch order (every run after the runs it depends on)."""

    runs: tuple[BackfillRun, ...]
    max_concurrent_runs: int = 1

    @property
    def num_partitions(self) -> int:
        """Asset partitions the backfill materializes (an unpartitioned asset counts one)."""
        return sum(len(r.asset_keys) * max(1, len(r.partition_keys)) for r in self.runs)


@dataclass
class _Unit:
    """One compute unit (an asset function, all its keys) and what to backfill of it."""

    assets_def: AssetsDefinition
    order: int
    partitions_def: PartitionsDefinition | None
    target: PartitionsSubset | None
    policy: BackfillPolicy | None
    group: int = -1


def plan_backfill(
    graph: AssetGraph,
    selection: Selection = None,
    *,
    partition_key_range: PartitionKeyRange | None = None,
    partition_keys: Sequence[str] | None = None,
    missing_in: MaterializedPartitions | None = None,
    current_time: datetime | None = None,
    max_concurrent_runs: int = 1,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> BackfillPlan:
    """Plan runs for the selected assets over a range/list of partitions, or (with
    `missing_in`) over every partition that view has not seen materialized."""
    if max_concurrent_runs < 1:
        raise BackfillPlanError("max_concurrent_runs must be at least 1")
    chosen = [partition_key_range is not None, partition_keys is not None, missing_in is not None]
    if sum(chosen) != 1:
        raise BackfillPlanError(
            "say what to backfill: a partition_key_range, partition_keys, or missing_in= "
            "(a status view, for every partition not yet materialized)"
        )
    store = dynamic_partitions_store
    units = _units(graph, select_keys(graph, selection))
    if missing_in is None and all(u.partitions_def is None for u in units):
        raise BackfillPlanError(
            "partitions were requested, but none of the selected assets is partitioned: "
            "materialize them with `assay materialize` instead"
        )
    by_key: dict[AssetKey, _Unit] = {k: u for u in units for k in u.assets_def.keys}
    requested: dict[PartitionsDefinition, PartitionsSubset] = {}
    window = None
    if partition_key_range is not None or partition_keys:
        window = request_time_window(
            dict.fromkeys(u.partitions_def for u in units),
            partition_key=partition_keys[0] if partition_keys else None,
            partition_key_range=(
                partition_key_range
                if partition_keys is None
                else PartitionKeyRange(partition_keys[0], partition_keys[-1])
            ),
            current_time=current_time,
        )
    for unit in units:
        unit.target = _target(
            graph,
            unit,
            by_key,
            partition_key_range=partition_key_range,
            partition_keys=partition_keys,
            missing_in=missing_in,
            current_time=current_time,
            store=store,
            requested=requested,
            window=window,
        )
    units = [u for u in units if u.partitions_def is None or u.target]
    if missing_in is not None:
        units = [u for u in units if u.partitions_def is not None or u.target is not None]
    by_key = {k: u for u in units for k in u.assets_def.keys}
    groups = _group(graph, units, by_key)
    return _plan_runs(graph, groups, by_key, max_concurrent_runs, current_time, store)


def _units(graph: AssetGraph, selected: set[AssetKey]) -> list[_Unit]:
    seen: dict[str, _Unit] = {}
    for key in graph.toposorted:
        if key not in selected:
            continue
        node = graph.nodes[key]
        assets_def = node.assets_def
        if assets_def is None or assets_def.is_observable or assets_def.name in seen:
            continue
        pdef = assets_def.partitions_def
        policy = (assets_def.backfill_policy or DEFAULT_POLICY) if pdef is not None else None
        seen[assets_def.name] = _Unit(assets_def, len(seen), pdef, None, policy)
    if not seen:
        raise BackfillPlanError("the selection has no assets to materialize")
    return list(seen.values())


def _parents(graph: AssetGraph, unit: _Unit) -> list[AssetKey]:
    own = set(unit.assets_def.keys)
    parents: dict[AssetKey, None] = {}
    for key in unit.assets_def.keys:
        for parent in graph.nodes[key].parents:
            if parent not in own:
                parents[parent] = None
    return list(parents)


def _target(
    graph: AssetGraph,
    unit: _Unit,
    by_key: dict[AssetKey, _Unit],
    *,
    partition_key_range: PartitionKeyRange | None,
    partition_keys: Sequence[str] | None,
    missing_in: MaterializedPartitions | None,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    requested: dict[PartitionsDefinition, PartitionsSubset],
    window: TimeWindow | None,
) -> PartitionsSubset | None:
    """The partitions to backfill of one unit; `requested` caches the request read in
    each definition (1,000 daily assets read it once)."""
    pdef = unit.partitions_def
    if missing_in is not None:
        return _missing(unit, missing_in, current_time, store)
    if pdef is None:
        return None
    asset = unit.assets_def.keys[0]
    if pdef in requested:
        return requested[pdef]
    try:
        keys = _read_request(
            pdef, partition_keys, partition_key_range, current_time, store, asset=asset
        )
        requested[pdef] = pdef.subset_with_partition_keys(keys)
        return requested[pdef]
    except PartitionSelectionError:
        if partition_keys:
            _refuse_mixed_keys(pdef, partition_keys, current_time, store, asset)
        # Not keys of this definition (a monthly asset in a daily backfill): map them.
        derived: PartitionsSubset | None = None
        for parent in _parents(graph, unit):
            parent_unit = by_key.get(parent)
            if parent_unit is None or parent_unit.target is None:
                continue
            mapping = partition_mapping_for(graph, unit.assets_def.name, pdef, parent)
            mapped = mapping.downstream_partitions_for(
                parent_unit.target, pdef, current_time=current_time, dynamic_partitions_store=store
            )
            derived = mapped if derived is None else derived | mapped
        if derived is None and isinstance(pdef, MultiPartitionsDefinition):
            derived = _days_of_every_region(
                pdef, partition_keys, partition_key_range, window, current_time, store, asset
            )
        if derived is None:
            derived = overlapping_subset(pdef, window, current_time)
        if derived is None:
            raise
        return derived


def _refuse_mixed_keys(
    pdef: PartitionsDefinition,
    partition_keys: Sequence[str],
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    asset: AssetKey,
) -> None:
    """Some keys are the asset's own and some are not: a typo, not another cadence."""
    unknown = []
    for key in partition_keys:
        try:
            requested_keys(
                pdef,
                partition_key=key,
                partition_key_range=None,
                current_time=current_time,
                store=store,
                asset=asset,
            )
        except PartitionSelectionError:
            unknown.append(key)
    if unknown and len(unknown) < len(partition_keys):
        shown = ", ".join(repr(k) for k in unknown[:5])
        raise BackfillPlanError(
            f"partition(s) {shown} do not exist for '{asset.to_user_string()}' "
            f"({len(partition_keys) - len(unknown)} of the requested keys do)"
        )


def _read_request(
    pdef: PartitionsDefinition,
    partition_keys: Sequence[str] | None,
    partition_key_range: PartitionKeyRange | None,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    *,
    asset: AssetKey,
) -> list[str]:
    """The requested keys (a list, else the range) read in `pdef`; raises when they are
    not keys of it."""
    if partition_keys is None:
        return requested_keys(
            pdef,
            partition_key=None,
            partition_key_range=partition_key_range,
            current_time=current_time,
            store=store,
            asset=asset,
        )
    keys: list[str] = []
    for one in partition_keys:
        keys += requested_keys(
            pdef,
            partition_key=one,
            partition_key_range=None,
            current_time=current_time,
            store=store,
            asset=asset,
        )
    return keys


def _days_of_every_region(
    pdef: MultiPartitionsDefinition,
    partition_keys: Sequence[str] | None,
    partition_key_range: PartitionKeyRange | None,
    window: TimeWindow | None,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
    asset: AssetKey,
) -> PartitionsSubset | None:
    """A date range over a date x region asset: those days (read in its time dimension,
    or overlapping the request's window) for every key of the other dimension."""
    dimension = pdef.time_window_dimension
    if dimension is None:
        return None
    time_def = dimension.partitions_def
    try:
        keys = _read_request(
            time_def, partition_keys, partition_key_range, current_time, store, asset=asset
        )
        days: PartitionsSubset | None = time_def.subset_with_partition_keys(keys)
    except PartitionSelectionError:
        days = overlapping_subset(time_def, window, current_time)
    if not days:
        return None
    others = pdef.primary_dimension.partitions_def.subset_with_all_partitions(current_time, store)
    return pdef.subset_from_product(others, days)


def _missing(
    unit: _Unit,
    view: MaterializedPartitions,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> PartitionsSubset | None:
    pdef = unit.partitions_def
    if pdef is None:
        done = all(bool(view.materialized_subset(k, None)) for k in unit.assets_def.keys)
        # An unpartitioned asset in a "missing" backfill: its target is "itself" or nothing.
        return None if done else _UNPARTITIONED_TARGET
    every = pdef.subset_with_all_partitions(current_time, store)
    missing = pdef.empty_subset()
    for key in unit.assets_def.keys:
        materialized = view.materialized_subset(key, pdef)
        if not isinstance(materialized, PartitionsSubset):
            materialized = pdef.subset_with_partition_keys(list(materialized))
        missing = missing | (every - materialized)
    return missing


class _Whole:
    """Marks an unpartitioned asset that a "missing" backfill must run."""

    def __bool__(self) -> bool:
        return True


_UNPARTITIONED_TARGET: Any = _Whole()


def _group_key(unit: _Unit) -> tuple[Any, ...]:
    target = unit.target if unit.partitions_def is not None else None
    return (unit.partitions_def, unit.policy, target)


def _group(
    graph: AssetGraph, units: list[_Unit], by_key: dict[AssetKey, _Unit]
) -> list[list[_Unit]]:
    """Connected units with equal (definition, policy, target) run together, split into
    levels so a path that leaves a group and comes back lands in a later group.
    Unconnected assets get separate runs, so one's failure never marks the other."""
    level: dict[int, int] = {}
    parent_of: dict[int, int] = {}

    def root(i: int) -> int:
        while parent_of[i] != i:
            parent_of[i] = parent_of[parent_of[i]]
            i = parent_of[i]
        return i

    for unit in units:  # topological order
        key = _group_key(unit)
        same: list[_Unit] = []
        lvl = 0
        for parent in _parents(graph, unit):
            parent_unit = by_key.get(parent)
            if parent_unit is None:
                continue
            if _group_key(parent_unit) == key:
                same.append(parent_unit)
                lvl = max(lvl, level[parent_unit.order])
            else:
                lvl = max(lvl, level[parent_unit.order] + 1)
        level[unit.order] = lvl
        parent_of[unit.order] = unit.order
        for other in same:
            if level[other.order] == lvl:
                parent_of[root(other.order)] = root(unit.order)
    groups: dict[int, list[_Unit]] = {}
    for unit in units:
        groups.setdefault(root(unit.order), []).append(unit)
    ordered = sorted(groups.values(), key=lambda g: (level[g[0].order], g[0].order))
    for gid, members in enumerate(ordered):
        for unit in members:
            unit.group = gid
    return ordered


def _chunks(unit: _Unit, current_time: datetime | None, store: Any) -> list[tuple[str, ...]]:
    """The partition keys of each run of a group: contiguous segments, cut by the policy."""
    pdef, target, policy = unit.partitions_def, unit.target, unit.policy
    if pdef is None:
        return [()]
    assert target is not None and policy is not None
    segments: list[list[str]] = []
    if isinstance(target, TimeWindowPartitionsSubset):
        assert isinstance(pdef, TimeWindowPartitionsDefinition)
        for start, end in target.ranges:
            segments.append(pdef.get_partition_keys_between(start, end))
    else:
        order = _key_positions(pdef, target, current_time, store)
        previous = None
        for key in sorted(target, key=lambda k: order.get(k, len(order))):
            index = order.get(key)
            if previous is None or index is None or index != previous + 1:
                segments.append([])
            segments[-1].append(key)
            previous = index
    return [tuple(chunk) for seg in segments for chunk in policy.chunk(seg)]


def _key_positions(
    pdef: PartitionsDefinition,
    target: PartitionsSubset,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> dict[str, int]:
    """Each key's position in its definition, so adjacent keys can share a run. Dynamic
    keys without a store keep the subset's own (sorted) order and are never adjacent."""
    if isinstance(pdef, DynamicPartitionsDefinition) and store is None:
        return {}
    return {k: i for i, k in enumerate(pdef.get_partition_keys(current_time, store))}


def _plan_runs(
    graph: AssetGraph,
    groups: list[list[_Unit]],
    by_key: dict[AssetKey, _Unit],
    max_concurrent_runs: int,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> BackfillPlan:
    # Runs per group, and which run of a group holds each partition key.
    run_assets: list[tuple[AssetKey, ...]] = []
    run_keys: list[tuple[str, ...]] = []
    run_group: list[int] = []
    group_runs: list[list[int]] = []
    holder: list[dict[str | None, int]] = []
    for gid, units in enumerate(groups):
        assets = tuple(k for u in units for k in u.assets_def.keys)
        ids = []
        where: dict[str | None, int] = {}
        for chunk in _chunks(units[0], current_time, store):
            index = len(run_assets)
            run_assets.append(assets)
            run_keys.append(chunk)
            run_group.append(gid)
            ids.append(index)
            for key in chunk or (None,):
                where[key] = index
        group_runs.append(ids)
        holder.append(where)
    deps: list[set[int]] = [set() for _ in run_assets]
    for gid, units in enumerate(groups):
        edges = _cross_edges(graph, units, by_key)
        pdef = units[0].partitions_def
        for run in group_runs[gid]:
            downstream: PartitionsSubset | None = None
            for parent_gid, mapping, parent_def in edges:
                if parent_def is None:
                    deps[run].update(group_runs[parent_gid])
                    continue
                if (
                    pdef is not None
                    and parent_def == pdef
                    and isinstance(mapping, IdentityPartitionMapping)
                ):
                    needed: Iterable[str] = run_keys[run]
                else:
                    if downstream is None and pdef is not None:
                        downstream = pdef.subset_with_partition_keys(run_keys[run])
                    needed = mapping.upstream_partitions_for(
                        downstream,
                        parent_def,
                        current_time=current_time,
                        dynamic_partitions_store=store,
                    )
                where = holder[parent_gid]
                for key in needed:
                    other = where.get(key)
                    if other is not None and other != run:
                        deps[run].add(other)
    order = _toposort(run_group, run_keys, deps)
    position = {old: new for new, old in enumerate(order)}
    runs = tuple(
        BackfillRun(run_assets[old], run_keys[old], tuple(sorted(position[d] for d in deps[old])))
        for old in order
    )
    return BackfillPlan(runs, max_concurrent_runs)


def _cross_edges(
    graph: AssetGraph, units: list[_Unit], by_key: dict[AssetKey, _Unit]
) -> list[tuple[int, Any, PartitionsDefinition | None]]:
    """Distinct (parent group, mapping, parent definition) edges into a group that can make
    its runs wait on other runs (same-group identity edges cannot)."""
    out: dict[Any, tuple[int, Any, PartitionsDefinition | None]] = {}
    for unit in units:
        for parent in _parents(graph, unit):
            parent_unit = by_key.get(parent)
            if parent_unit is None:
                continue
            mapping = partition_mapping_for(
                graph, unit.assets_def.name, unit.partitions_def, parent
            )
            same = parent_unit.group == unit.group
            if same and isinstance(mapping, IdentityPartitionMapping):
                continue
            if same and unit.partitions_def is None:
                continue
            try:
                token: Any = (parent_unit.group, mapping)
                hash(token)
            except TypeError:
                token = (parent_unit.group, id(mapping))
            out.setdefault(token, (parent_unit.group, mapping, parent_unit.partitions_def))
    return list(out.values())


def _toposort(
    run_group: list[int], run_keys: list[tuple[str, ...]], deps: list[set[int]]
) -> list[int]:
    """Runs with dependencies first; otherwise group order, then partition order."""
    waiting = [len(d) for d in deps]
    dependents: list[list[int]] = [[] for _ in deps]
    for run, upstream in enumerate(deps):
        for other in upstream:
            dependents[other].append(run)
    ready = [(run_group[r], r) for r in range(len(deps)) if not waiting[r]]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        _, run = heapq.heappop(ready)
        order.append(run)
        for child in dependents[run]:
            waiting[child] -= 1
            if not waiting[child]:
                heapq.heappush(ready, (run_group[child], child))
    if len(order) != len(deps):
        stuck = [r for r in range(len(deps)) if waiting[r]][:3]
        described = ", ".join(str(list(run_keys[r][:1])) for r in stuck)
        raise BackfillPlanError(
            "the backfill's runs would wait on each other in a circle (partition mappings "
            f"with offsets in both directions?); first stuck runs cover {described}"
        )
    return order
