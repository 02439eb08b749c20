"""An asset graph rebuilt from code locations' snapshots, for a process with no user code.

The control plane's daemon evaluates automation conditions, freshness and backfills over
this graph: keys, dependencies, partitions, mappings and conditions come back as the same
Python objects the SDK built, while the asset functions stay on the agent's side. One
deployment's locations form one graph, so a dependency across locations is an ordinary
edge; an asset that a snapshot names but no location defines becomes an external node.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from assay.automation.errors import InvalidAutomationCondition
from assay.automation.serialize import condition_from_tree
from assay.column_lineage import column_lineage_from_snapshot
from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetIn, AssetsDefinition, AssetSpec
from assay.freshness import FreshnessPolicy
from assay.graph import AssetGraph
from assay.partitions.backfill_policy import BackfillPolicy
from assay.partitions.mapping import PartitionMapping, infer_partition_mapping
from assay.partitions.snapshot import partition_mapping_from_snapshot, partitions_def_from_snapshot
from assay.snapshot import AssetSnapshot, DefinitionsSnapshot

__all__ = ["SnapshotGraph", "asset_graph_from_snapshots"]


@dataclass
class SnapshotGraph:
    """The rebuilt graph, which location owns each asset, and what could not be rebuilt."""

    graph: AssetGraph
    location_of: dict[AssetKey, str]
    # Asset -> why its automation condition is not evaluated here (a custom condition).
    skipped_conditions: dict[AssetKey, str] = field(default_factory=dict)


def asset_graph_from_snapshots(snapshots: Mapping[str, DefinitionsSnapshot]) -> SnapshotGraph:
    """One graph over every location's assets (``{location name: snapshot}``).

    A key defined by two locations is kept from the first (by location name), so one
    misconfigured location cannot stop automation for the whole deployment.
    """
    location_of: dict[AssetKey, str] = {}
    chosen: list[tuple[str, AssetSnapshot]] = []
    for location in sorted(snapshots):
        for asset in snapshots[location].assets:
            key = AssetKey.from_user_string(asset.key)
            if key not in location_of:
                location_of[key] = location
                chosen.append((location, asset))
    skipped: dict[AssetKey, str] = {}
    specs: dict[AssetKey, AssetSpec] = {}
    for _, asset in chosen:
        key = AssetKey.from_user_string(asset.key)
        specs[key] = _spec(key, asset, skipped)

    computes: dict[tuple[str, str], list[AssetSnapshot]] = {}
    items: list[AssetsDefinition | AssetSpec] = []
    for location, asset in chosen:
        if asset.compute_name is None:
            items.append(_with_known_deps(specs, asset))
        else:
            computes.setdefault((location, asset.compute_name), []).append(asset)
    for (location, name), assets in computes.items():
        items.append(_assets_definition(f"{location}:{name}", assets, specs))
    referenced = {
        AssetKey.from_user_string(dep) for _, asset in chosen for dep in asset.deps
    } - specs.keys()
    items.extend(AssetSpec(key) for key in sorted(referenced, key=str))
    return SnapshotGraph(AssetGraph(items), location_of, skipped)


def _spec(key: AssetKey, asset: AssetSnapshot, skipped: dict[AssetKey, str]) -> AssetSpec:
    return AssetSpec(
        key,
        description=asset.description,
        metadata=asset.metadata,
        group_name=asset.group,
        owners=asset.owners,
        tags=asset.tags,
        kinds=asset.kinds,
        code_version=asset.code_version,
        partitions_def=partitions_def_from_snapshot(asset.partitions) if asset.partitions else None,
        automation_condition=_condition(key, asset.automation_condition, skipped),
        freshness_policy=FreshnessPolicy(**asset.freshness_policy)
        if asset.freshness_policy
        else None,
        column_lineage=column_lineage_from_snapshot(asset.column_lineage),
    )


def _condition(key: AssetKey, data: Any, skipped: dict[AssetKey, str]) -> Any:
    if not data:
        return None
    tree = data.get("tree") if isinstance(data, Mapping) else None
    if tree is None:
        expression = data.get("expression") if isinstance(data, Mapping) else repr(data)
        skipped[key] = f"custom condition {expression!r} can only be evaluated where it is defined"
        return None
    try:
        return condition_from_tree(tree)
    except (InvalidAutomationCondition, KeyError, TypeError, ValueError) as exc:
        skipped[key] = f"automation condition cannot be rebuilt: {exc}"
        return None


def _with_known_deps(specs: Mapping[AssetKey, AssetSpec], asset: AssetSnapshot) -> AssetSpec:
    key = AssetKey.from_user_string(asset.key)
    spec = specs[key]
    deps = tuple(AssetKey.from_user_string(d) for d in asset.deps)
    return spec.replace(deps=deps) if deps else spec


def _explicit_mapping(
    asset: AssetSnapshot, dep: str, specs: Mapping[AssetKey, AssetSpec]
) -> PartitionMapping | None:
    """The edge's recorded mapping when it differs from the one the graph would infer."""
    data = asset.partition_mappings.get(dep)
    parent = specs.get(AssetKey.from_user_string(dep))
    if not data or parent is None or parent.partitions_def is None:
        return None
    child = specs[AssetKey.from_user_string(asset.key)]
    inferred = infer_partition_mapping(parent.partitions_def, child.partitions_def)
    if inferred is not None and inferred.to_snapshot() == data:
        return None
    return partition_mapping_from_snapshot(data)


def _assets_definition(
    name: str, assets: list[AssetSnapshot], specs: Mapping[AssetKey, AssetSpec]
) -> AssetsDefinition:
    """A function-less definition: its inputs carry the partition mapping of each edge."""
    ins: dict[str, AssetIn] = {}
    order_only: dict[AssetKey, None] = {}
    for asset in assets:
        for dep in asset.deps:
            dep_key = AssetKey.from_user_string(dep)
            mapping = _explicit_mapping(asset, dep, specs)
            if mapping is not None:
                ins[f"in_{len(ins)}"] = AssetIn(dep_key, partition_mapping=mapping)
            else:
                order_only[dep_key] = None
    mapped = {asset_in.key for asset_in in ins.values()}
    first = assets[0]
    # Each asset keeps its own deps: a multi-asset's assets may depend on one another
    # (a dbt project's models do), which a union of every asset's deps would make a cycle.
    own_specs = []
    for asset in assets:
        own = (AssetKey.from_user_string(d) for d in asset.deps)
        deps = tuple(k for k in own if k in order_only and k not in mapped)
        own_specs.append(specs[AssetKey.from_user_string(asset.key)].replace(deps=deps))
    return AssetsDefinition(
        fn=None,
        name=name,
        specs=own_specs,
        ins=ins,
        is_observable=first.is_observable,
        backfill_policy=BackfillPolicy(**first.backfill_policy) if first.backfill_policy else None,
    )
