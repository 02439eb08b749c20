"""A deployment's asset graph, rebuilt from its current snapshots and kept while they last.

The daemon's loops (automation, freshness, backfills) ask for the graph every pass;
rebuilding 10,000 assets from JSON takes seconds, so graphs are cached by the set of
``(location, snapshot id)`` pairs. Snapshot ids are content hashes: an entry is never
stale, only unused. Keeping the same graph object also keeps the SDK's per-graph
evaluation plan, which makes incremental automation ticks cheap.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import cached_property

from assay.definitions.asset_key import AssetKey
from assay.graph import AssetGraph
from assay.partitions import PartitionsDefinition
from assay.snapshot import DefinitionsSnapshot
from assay.snapshot_graph import SnapshotGraph, asset_graph_from_snapshots
from control_plane.catalog.models import LocationSnapshot
from control_plane.tenancy.models import Deployment

MAX_CACHED_GRAPHS = 8

GraphKey = frozenset[tuple[str, str]]


@dataclass(frozen=True)
class DeploymentGraph:
    """The rebuilt graph of one set of snapshots, and facts every tick reads from it."""

    key: GraphKey
    snapshot_graph: SnapshotGraph

    @property
    def graph(self) -> AssetGraph:
        return self.snapshot_graph.graph

    @property
    def location_of(self) -> dict[AssetKey, str]:
        return self.snapshot_graph.location_of

    @cached_property
    def partitions_defs(self) -> dict[AssetKey, PartitionsDefinition | None]:
        return {key: node.spec.partitions_def for key, node in self.graph.nodes.items()}

    @cached_property
    def automated_keys(self) -> tuple[AssetKey, ...]:
        """Assets with an automation condition the control plane can evaluate."""
        return tuple(
            key
            for key in self.graph.toposorted
            if self.graph.nodes[key].spec.automation_condition is not None
            and self.graph.nodes[key].is_materializable
        )


_cache: OrderedDict[GraphKey, DeploymentGraph] = OrderedDict()
_lock = threading.Lock()


def deployment_graph(*, deployment: Deployment) -> DeploymentGraph | None:
    """The graph of the deployment's loaded locations; None when none is loaded."""
    current = list(
        LocationSnapshot.objects.filter(
            deployment=deployment, is_current=True, status=LocationSnapshot.Status.OK
        ).values_list("pk", "code_location__name", "snapshot_id")
    )
    if not current:
        return None
    key: GraphKey = frozenset((name, snapshot_id) for _, name, snapshot_id in current)
    with _lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    texts = dict(
        LocationSnapshot.objects.filter(pk__in=[pk for pk, _, _ in current]).values_list(
            "code_location__name", "snapshot_json"
        )
    )
    snapshots = {name: DefinitionsSnapshot.from_json(text) for name, text in texts.items()}
    built = DeploymentGraph(key, asset_graph_from_snapshots(snapshots))
    with _lock:
        _cache[key] = built
        while len(_cache) > MAX_CACHED_GRAPHS:
            _cache.popitem(last=False)
    return built
