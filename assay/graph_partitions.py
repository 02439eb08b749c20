"""Partitions along the asset graph's edges: the mapping each edge uses, checked at load.

An edge's mapping is the `AssetIn(partition_mapping=)` of the parameter that loads
the parent, else `infer_partition_mapping(parent, child)`. Checking them when the
graph is built means a daily asset reading a static one through a time-window
mapping fails at import, naming both assets, instead of at 3 a.m. in a run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey
from assay.errors import DefinitionError
from assay.freshness import FreshnessPolicy
from assay.partitions import (
    AllPartitionMapping,
    BackfillPolicy,
    LastPartitionMapping,
    PartitionMapping,
    PartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
    infer_partition_mapping,
)

if TYPE_CHECKING:
    from assay.graph import AssetGraph

# Mappings that make sense when the downstream asset is unpartitioned.
_UNPARTITIONED_OK = (AllPartitionMapping, LastPartitionMapping)


def partitions_def_of(graph: AssetGraph, key: AssetKey) -> PartitionsDefinition | None:
    return graph.nodes[key].spec.partitions_def


def explicit_mapping(graph: AssetGraph, consumer: str, parent: AssetKey) -> Any:
    """The mapping declared with `AssetIn(partition_mapping=)` for `parent`, if any."""
    owner = graph.assets_defs.get(consumer) or graph.checks.get(consumer)
    if owner is None:
        return None
    for param, upstream in graph.inputs.get(consumer, {}).items():
        if upstream == parent:
            asset_in = owner.ins.get(param)
            if asset_in is not None and asset_in.partition_mapping is not None:
                return asset_in.partition_mapping
    return None


def partition_mapping_for(
    graph: AssetGraph,
    consumer: str,
    consumer_def: PartitionsDefinition | None,
    parent: AssetKey,
) -> PartitionMapping:
    """The mapping from `parent`'s partitions to those of step `consumer` (asset or check)."""
    mapping = explicit_mapping(graph, consumer, parent)
    if mapping is not None:
        return mapping
    return infer_partition_mapping(partitions_def_of(graph, parent), consumer_def)


def validate_partitions(graph: AssetGraph) -> bool:
    """Check partitions, mappings and policies; returns whether any asset is partitioned."""
    any_partitioned = False
    for node in graph.nodes.values():
        spec = node.spec
        pdef = spec.partitions_def
        if pdef is not None:
            any_partitioned = True
            if not isinstance(pdef, PartitionsDefinition):
                raise DefinitionError(
                    f"asset '{node.key}': partitions_def must be a PartitionsDefinition "
                    f"(e.g. DailyPartitionsDefinition), got {pdef!r}"
                )
        policy = spec.freshness_policy
        if policy is not None and not isinstance(policy, FreshnessPolicy):
            raise DefinitionError(
                f"asset '{node.key}': freshness_policy must be a FreshnessPolicy, got {policy!r}"
            )
    for name, assets_def in graph.assets_defs.items():
        defs = {spec.partitions_def for spec in assets_def.specs}
        if len(defs) > 1:
            raise DefinitionError(
                f"'{name}' produces assets with different partitions definitions; "
                "the assets of one multi_asset run together, so they must share one"
            )
        policy = assets_def.backfill_policy
        if policy is not None and not isinstance(policy, BackfillPolicy):
            raise DefinitionError(
                f"'{name}': backfill_policy must be a BackfillPolicy "
                f"(BackfillPolicy.single_run() or .multi_run(n)), got {policy!r}"
            )
        if policy is not None and assets_def.partitions_def is None:
            raise DefinitionError(f"'{name}' has a backfill_policy but no partitions_def")
        has_mapping = any(i.partition_mapping is not None for i in assets_def.ins.values())
        if has_mapping:
            _check_edges(graph, name, assets_def.partitions_def)
    for name, check in graph.checks.items():
        if any(i.partition_mapping is not None for i in check.ins.values()):
            _check_edges(graph, name, partitions_def_of(graph, check.asset_key))
    return any_partitioned


def _check_edges(graph: AssetGraph, consumer: str, consumer_def: Any) -> None:
    for parent in graph.inputs.get(consumer, {}).values():
        mapping = explicit_mapping(graph, consumer, parent)
        if mapping is None:
            continue
        where = f"'{consumer}' reads '{parent}'"
        if not isinstance(mapping, PartitionMapping):
            raise DefinitionError(
                f"{where} with partition_mapping={mapping!r}, which is not a PartitionMapping"
            )
        parent_def = partitions_def_of(graph, parent)
        if parent_def is None:
            raise DefinitionError(
                f"{where} with a {type(mapping).__name__}, but '{parent}' is not partitioned"
            )
        if consumer_def is None and not isinstance(mapping, _UNPARTITIONED_OK):
            raise DefinitionError(
                f"{where} with a {type(mapping).__name__}, but '{consumer}' is not partitioned; "
                "an unpartitioned asset reads AllPartitionMapping (the default) or "
                "LastPartitionMapping"
            )
        if isinstance(mapping, TimeWindowPartitionMapping) and not (
            isinstance(parent_def, TimeWindowPartitionsDefinition)
            and isinstance(consumer_def, TimeWindowPartitionsDefinition)
        ):
            raise DefinitionError(
                f"{where} with a TimeWindowPartitionMapping, which needs time-window partitions "
                f"on both sides (got {parent_def.describe()} and "
                f"{consumer_def.describe() if consumer_def else 'none'})"
            )
