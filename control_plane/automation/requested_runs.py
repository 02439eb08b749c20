"""Queueing what an automation tick requested: one run per request and code location.

The SDK groups requested asset partitions into runs (one per partition key); a run
executes in one code location, so each request is split by the location that defines
each asset. The run's selection names exactly the requested assets, as shortly as the
selection syntax allows: ``key+`` for a requested asset whose whole downstream (in its
location) is requested too, so a cascade of 500 assets is one term, not 500.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field

from assay.automation.evaluate import AUTOMATION_TAG, RunRequest
from assay.definitions.asset_key import AssetKey
from assay.graph import AssetGraph
from control_plane.automation.models import DaemonTick
from control_plane.catalog import queries as catalog_queries
from control_plane.catalog.deployment_graph import DeploymentGraph
from control_plane.core.context import TenantContext
from control_plane.core.errors import InvalidInput
from control_plane.runs import services as runs
from control_plane.runs.models import MAX_DAEMON_SELECTION, Run
from control_plane.tenancy.models import CodeLocation, Deployment

MAX_SELECTION = MAX_DAEMON_SELECTION


class SelectionTooLong(InvalidInput):
    """No selection within the run's limit names exactly the requested assets."""


@dataclass
class LaunchedRuns:
    runs: list[Run] = field(default_factory=list)
    run_ids: dict[AssetKey, list[str]] = field(default_factory=dict)


def launch_requested_runs(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    graph: DeploymentGraph,
    requests: Iterable[RunRequest],
    tick: DaemonTick,
) -> LaunchedRuns:
    """Queue every request through the normal run queue, tagged with the tick's id.

    Call inside the tick's transaction: a request that cannot launch raises, and nothing
    of the tick is kept, so the next tick asks again.
    """
    launched = LaunchedRuns()
    locations: dict[str, CodeLocation] = {
        location.name: location for location in CodeLocation.objects.filter(deployment=deployment)
    }
    indexes: dict[str, catalog_queries.SelectionIndex] = {}  # read once per location
    for request in requests:
        by_location: dict[str, list[AssetKey]] = {}
        for key in request.asset_keys:
            by_location.setdefault(graph.location_of[key], []).append(key)
        for name, keys in by_location.items():
            location = locations[name]
            index = indexes.get(name)
            if index is None:
                snapshot = catalog_queries.loaded_snapshot(location=location)
                index = indexes[name] = catalog_queries.selection_index(snapshot=snapshot)
            selection = covering_selection(index.graph, keys, executable=index.executable)
            if len(selection) > MAX_SELECTION:
                raise SelectionTooLong(
                    f"automation requested {len(keys)} assets of code location {name!r} in one "
                    f"run and no selection of at most {MAX_SELECTION} characters names exactly "
                    "them"
                )
            run = runs.launch_run(
                ctx=ctx,
                deployment=deployment,
                location=location,
                selection=selection,
                partition_key=request.partition_key or "",
                tags={AUTOMATION_TAG: str(tick.pk)},
            )
            launched.runs.append(run)
            for key in keys:
                launched.run_ids.setdefault(key, []).append(str(run.id))
    return launched


def covering_selection(
    graph: AssetGraph, keys: Sequence[AssetKey], *, executable: Collection[str] = ()
) -> str:
    """A selection of exactly ``keys`` in ``graph``: '' when they are all the
    ``executable`` assets, ``key+`` for a key whose whole downstream is wanted and no
    wanted parent covers it, and the bare key for the rest: for leaves, and for a key
    ``graph`` does not know (the launch then refuses it by name)."""
    wanted = set(keys)
    if (
        executable
        and len(wanted) == len(executable)
        and {k.to_user_string() for k in wanted} == set(executable)
    ):
        return ""
    known = graph.sort(k for k in wanted if k in graph.nodes)
    closed: set[AssetKey] = set()  # wanted, and so is everything downstream of it
    for key in reversed(known):  # children before parents
        if all(child in closed for child in graph.nodes[key].children):
            closed.add(key)
    terms = [k.to_user_string() for k in wanted if k not in graph.nodes]
    for key in known:
        if key not in closed:
            terms.append(key.to_user_string())
        elif not any(parent in closed for parent in graph.nodes[key].parents):
            plus = "+" if graph.nodes[key].children else ""
            terms.append(f"{key.to_user_string()}{plus}")
    return ", ".join(terms)
