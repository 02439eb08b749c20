"""A deployment's asset graph, rebuilt from its current loaded snapshots and kept while they last.

Declarative automation, the freshness loop and alert targeting read it on every pass or
incident; rebuilding 10,000 assets from JSON takes seconds. So each process keeps one
graph per deployment, with the snapshots it was built from: it
is reused while those are still the current snapshots and replaced when a location loads
new definitions. There is at most one entry per deployment, and none for a deployment
without a loaded location (the daemon's loops also ``retain`` only the deployments they
serve). Keeping the same graph object keeps what the SDK derives from it once, such as
its automation evaluation plan, so incremental ticks stay cheap. Safe across threads.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

from assay.definitions.asset_key import AssetKey
from assay.graph import AssetGraph
from assay.partitions import PartitionsDefinition
from assay.snapshot import DefinitionsSnapshot
from assay.snapshot_graph import SnapshotGraph, asset_graph_from_snapshots
from control_plane.catalog.models import LocationSnapshot
from control_plane.tenancy.models import Deployment

# The snapshots a graph was built from: (location name, snapshot row id, content hash).
SnapshotIds = frozenset[tuple[str, int, str]]


@dataclass(frozen=True)
class DeploymentGraph:
    """The rebuilt graph of one set of snapshots, and facts its readers derive from it."""

    snapshot_ids: SnapshotIds
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

    @cached_property
    def freshness_graph(self) -> AssetGraph:
        """The assets with a freshness policy, without edges: each is judged by its own
        materializations."""
        return AssetGraph(
            [
                node.spec.replace(deps=())
                for node in self.graph.nodes.values()
                if node.spec.freshness_policy is not None
            ]
        )


_graphs: dict[int, DeploymentGraph] = {}
_building: dict[int, threading.Lock] = {}  # one build per deployment at a time
_lock = threading.Lock()  # guards both dicts


def deployment_graph(*, deployment: Deployment) -> DeploymentGraph | None:
    """The graph of the deployment's loaded locations; None when none is loaded."""
    current = list(
        LocationSnapshot.objects.filter(
            deployment=deployment, is_current=True, status=LocationSnapshot.Status.OK
        ).values_list("pk", "code_location__name", "snapshot_id")
    )
    if not current:
        forget(deployment_id=deployment.pk)
        return None
    ids: SnapshotIds = frozenset((name, pk, snapshot_id) for pk, name, snapshot_id in current)
    with _lock:
        found = _graphs.get(deployment.pk)
        if found is not None and found.snapshot_ids == ids:
            return found
        building = _building.setdefault(deployment.pk, threading.Lock())
    with building:  # a second reader waits for the first one's build instead of repeating it
        with _lock:
            found = _graphs.get(deployment.pk)
            if found is not None and found.snapshot_ids == ids:
                return found
        texts = LocationSnapshot.objects.filter(pk__in=[pk for pk, _, _ in current]).values_list(
            "code_location__name", "snapshot_json"
        )
        snapshots = {name: DefinitionsSnapshot.from_json(text) for name, text in texts}
        built = DeploymentGraph(ids, asset_graph_from_snapshots(snapshots))
        with _lock:
            _graphs[deployment.pk] = built
    return built


def forget(*, deployment_id: int) -> None:
    """Drop the deployment's graph (it has no loaded location any more)."""
    with _lock:
        _graphs.pop(deployment_id, None)


def retain(*, deployment_ids: Iterable[int]) -> None:
    """Keep only the graphs of ``deployment_ids`` (the deployments a loop still serves)."""
    live = set(deployment_ids)
    with _lock:
        for gone in [pk for pk in _graphs if pk not in live]:
            del _graphs[gone]
        for gone in [pk for pk in _building if pk not in live]:
            del _building[gone]
