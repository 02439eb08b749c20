"""What a branch changes against its base deployment, from the two sets of snapshots only.

Pure: no database, no clock it is not given. The control plane computes it when a branch
deployment's locations load, the console and the PR comment show it, and the CLI can run it
over two snapshot files. Descendant sets are Python ints used as bitsets over the graph's
nodes, built once in reverse topological order, so per-asset blast radii over 10,000 assets
cost a few OR operations per edge instead of one graph walk per changed asset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import compress
from typing import Any

from assay.errors import AssayError
from assay.partitions.base import DynamicPartitionsStore
from assay.partitions.snapshot import partitions_def_from_snapshot
from assay.snapshot import AssetSnapshot, CheckSnapshot, DefinitionsSnapshot

__all__ = [
    "CHANGE_KINDS",
    "AssetChange",
    "BranchDiff",
    "CostEstimate",
    "diff_snapshots",
]

# The kinds of change an asset can have, in the order they are shown.
CHANGE_KINDS = (
    "code_version",
    "dependencies",
    "partitions_definition",
    "automation_condition",
    "checks",
    "metadata",
    "owners_tags",
    "policies",
)


@dataclass(frozen=True)
class AssetChange:
    """One asset that is new, removed or changed; `blast_radius` is downstream in the base."""

    key: str
    status: str  # "new" | "removed" | "changed"
    kinds: tuple[str, ...]
    blast_radius: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "status": self.status,
            "kinds": list(self.kinds),
            "blast_radius": list(self.blast_radius),
            "blast_radius_count": len(self.blast_radius),
        }


@dataclass(frozen=True)
class CostEstimate:
    """Credits to materialize the new and changed assets and everything downstream, once.

    One credit per asset materialization, per partition when partitioned. Partitioned assets
    whose partitions cannot be counted (dynamic partitions without a store) are listed in
    `uncounted` and count nothing in `credits_once`.
    """

    assets: int
    unpartitioned_assets: int
    partitioned_assets: int
    credits_once: int
    uncounted: tuple[str, ...] = ()

    def credits_for_partition_range(self, partitions: int) -> int:
        """Credits for one run over a range of `partitions` keys of each partitioned asset."""
        if partitions < 0:
            raise AssayError("a partition range cannot have a negative length")
        return self.unpartitioned_assets + self.partitioned_assets * partitions

    def to_dict(self) -> dict[str, Any]:
        return {
            "assets": self.assets,
            "unpartitioned_assets": self.unpartitioned_assets,
            "partitioned_assets": self.partitioned_assets,
            "credits_once": self.credits_once,
            "credits_per_partition": self.credits_for_partition_range(1),
            "uncounted": list(self.uncounted),
        }


@dataclass(frozen=True)
class BranchDiff:
    new: tuple[AssetChange, ...]
    removed: tuple[AssetChange, ...]
    changed: tuple[AssetChange, ...]
    # Base assets downstream of any change that are not themselves changed or removed.
    blast_radius: tuple[str, ...]
    # What a launch of "changed and downstream" in the branch would materialize.
    launch_keys: tuple[str, ...]
    cost: CostEstimate
    unchanged_count: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)

    @property
    def is_empty(self) -> bool:
        return not (self.new or self.removed or self.changed)

    @property
    def changed_keys(self) -> tuple[str, ...]:
        """New and changed keys: the assets that exist in the branch and differ."""
        return tuple(sorted(c.key for c in (*self.new, *self.changed)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "new": [c.to_dict() for c in self.new],
            "removed": [c.to_dict() for c in self.removed],
            "changed": [c.to_dict() for c in self.changed],
            "blast_radius": list(self.blast_radius),
            "launch_keys": list(self.launch_keys),
            "cost": self.cost.to_dict(),
            "unchanged_count": self.unchanged_count,
            "by_kind": dict(self.by_kind),
        }


SnapshotsLike = DefinitionsSnapshot | Iterable[DefinitionsSnapshot]


def _as_list(snapshots: SnapshotsLike) -> list[DefinitionsSnapshot]:
    if isinstance(snapshots, DefinitionsSnapshot):
        return [snapshots]
    return list(snapshots)


def _index(
    snapshots: list[DefinitionsSnapshot],
) -> tuple[dict[str, AssetSnapshot], dict[str, list[tuple[str, bool, str | None]]]]:
    assets: dict[str, AssetSnapshot] = {}
    checks: dict[str, list[tuple[str, bool, str | None]]] = {}
    for snap in snapshots:
        for asset in snap.assets:
            assets[asset.key] = asset
        for check in snap.checks:
            checks.setdefault(check.asset_key, []).append(_check_tuple(check))
    for value in checks.values():
        value.sort(key=lambda c: c[0])
    return assets, checks


def _check_tuple(check: CheckSnapshot) -> tuple[str, bool, str | None]:
    return (check.name, check.blocking, check.description)


def _kinds(old: AssetSnapshot, new: AssetSnapshot, checks_differ: bool) -> tuple[str, ...]:
    kinds = []
    if old.code_version != new.code_version:
        kinds.append("code_version")
    partitions_changed = old.partitions != new.partitions
    # A mapping that changed only because the partitions did is not a dependency change.
    if old.deps != new.deps or (
        not partitions_changed and old.partition_mappings != new.partition_mappings
    ):
        kinds.append("dependencies")
    if partitions_changed:
        kinds.append("partitions_definition")
    if old.automation_condition != new.automation_condition:
        kinds.append("automation_condition")
    if checks_differ:
        kinds.append("checks")
    if (
        old.metadata != new.metadata
        or old.description != new.description
        or old.is_external != new.is_external
        or old.is_observable != new.is_observable
        or old.compute_name != new.compute_name
    ):
        kinds.append("metadata")
    if (
        old.owners != new.owners
        or old.tags != new.tags
        or old.group != new.group
        or old.kinds != new.kinds
    ):
        kinds.append("owners_tags")
    if old.freshness_policy != new.freshness_policy or old.backfill_policy != new.backfill_policy:
        kinds.append("policies")
    return tuple(kinds)


_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


class _Descendants:
    """Descendant bitsets of every node of one graph, over an index of its keys."""

    def __init__(self, assets: Mapping[str, AssetSnapshot]) -> None:
        # Sorted, so that the keys of any bitset come out sorted.
        self.keys = sorted(assets)
        self.position = {key: i for i, key in enumerate(self.keys)}
        children: list[list[int]] = [[] for _ in self.keys]
        indegree = [0] * len(self.keys)
        for key, asset in assets.items():
            child = self.position[key]
            for dep in asset.deps:
                parent = self.position.get(dep)
                if parent is not None:
                    children[parent].append(child)
                    indegree[child] += 1
        order = [i for i, d in enumerate(indegree) if d == 0]
        for i in order:  # Kahn's algorithm; the list grows while it is walked
            for child in children[i]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    order.append(child)
        if len(order) != len(self.keys):
            raise AssayError("the asset graph has a cycle; snapshots are acyclic when built")
        self.bits = [0] * len(self.keys)
        for i in reversed(order):
            acc = 0
            for child in children[i]:
                acc |= self.bits[child] | (1 << child)
            self.bits[i] = acc

    def of(self, keys: Iterable[str]) -> int:
        acc = 0
        for key in keys:
            i = self.position.get(key)
            if i is not None:
                acc |= self.bits[i]
        return acc

    def mask(self, keys: Iterable[str]) -> int:
        acc = 0
        for key in keys:
            i = self.position.get(key)
            if i is not None:
                acc |= 1 << i
        return acc

    def keys_of(self, bits: int) -> list[str]:
        # The bits as a byte per node (0 or 1) select keys in C; clearing the low bit of a
        # wide int one at a time would be quadratic.
        flags = bin(bits)[:1:-1].encode().translate(_BIT_BYTES)
        return list(compress(self.keys, flags))


class _PartitionCounter:
    """Partition counts by partitions definition, each distinct definition counted once."""

    def __init__(self, current_time: datetime | None, store: DynamicPartitionsStore | None) -> None:
        self.current_time = current_time
        self.store = store
        self.cache: dict[str, int | None] = {}

    def count(self, partitions: Any) -> int | None:
        token = json.dumps(partitions, sort_keys=True)
        if token not in self.cache:
            try:
                pdef = partitions_def_from_snapshot(partitions)
                self.cache[token] = pdef.get_num_partitions(self.current_time, self.store)
            except Exception:  # dynamic partitions without a store, an unknown kind
                self.cache[token] = None
        return self.cache[token]


def _reachable(assets: Mapping[str, AssetSnapshot], roots: Iterable[str]) -> set[str]:
    """`roots` and everything downstream of them: one walk, only over what it reaches."""
    children: dict[str, list[str]] = {}
    for key, asset in assets.items():
        for dep in asset.deps:
            children.setdefault(dep, []).append(key)
    seen = set(roots)
    frontier = list(seen)
    while frontier:
        key = frontier.pop()
        for child in children.get(key, ()):
            if child not in seen:
                seen.add(child)
                frontier.append(child)
    return seen


def diff_snapshots(
    base: SnapshotsLike,
    branch: SnapshotsLike,
    *,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> BranchDiff:
    """Compare a branch's snapshots with its base deployment's (all locations of each).

    Blast radius is downstream in the base (what the change could break there); the cost
    counts the new and changed assets and their downstream in the branch (what a launch of
    them in the branch would materialize). Removed assets cost nothing.
    """
    base_assets, base_checks = _index(_as_list(base))
    branch_assets, branch_checks = _index(_as_list(branch))
    base_desc = _Descendants(base_assets)

    new_keys = sorted(k for k in branch_assets if k not in base_assets)
    removed_keys = sorted(k for k in base_assets if k not in branch_assets)
    changed: list[tuple[str, tuple[str, ...]]] = []
    unchanged = 0
    for key, new in branch_assets.items():
        old = base_assets.get(key)
        if old is None:
            continue
        checks_differ = base_checks.get(key, []) != branch_checks.get(key, [])
        if old == new and not checks_differ:
            unchanged += 1
            continue
        kinds = _kinds(old, new, checks_differ)
        if kinds:
            changed.append((key, kinds))
        else:
            unchanged += 1
    changed.sort()

    def radius(key: str) -> tuple[str, ...]:
        return tuple(base_desc.keys_of(base_desc.of((key,))))

    by_kind = {kind: 0 for kind in CHANGE_KINDS}
    for _, kinds in changed:
        for kind in kinds:
            by_kind[kind] += 1
    touched = [k for k, _ in changed] + removed_keys
    union = base_desc.of(touched) & ~base_desc.mask(touched)

    roots = new_keys + [k for k, _ in changed]
    launch_keys = sorted(_reachable(branch_assets, roots))

    counter = _PartitionCounter(current_time, dynamic_partitions_store)
    credits = partitioned = 0
    uncounted = []
    for key in launch_keys:
        partitions = branch_assets[key].partitions
        if partitions is None:
            credits += 1
            continue
        partitioned += 1
        n = counter.count(partitions)
        if n is None:
            uncounted.append(key)
        else:
            credits += n

    return BranchDiff(
        new=tuple(AssetChange(k, "new", (), ()) for k in new_keys),
        removed=tuple(AssetChange(k, "removed", (), radius(k)) for k in removed_keys),
        changed=tuple(AssetChange(k, "changed", kinds, radius(k)) for k, kinds in changed),
        blast_radius=tuple(base_desc.keys_of(union)),
        launch_keys=tuple(launch_keys),
        cost=CostEstimate(
            assets=len(launch_keys),
            unpartitioned_assets=len(launch_keys) - partitioned,
            partitioned_assets=partitioned,
            credits_once=credits,
            uncounted=tuple(uncounted),
        ),
        unchanged_count=unchanged,
        by_kind=by_kind,
    )
