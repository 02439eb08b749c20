"""Planning a requested backfill against the deployment's current definitions.

Everything is checked here, before anything is stored: the code location, the selection
(over the graph of every loaded location, so dependencies across locations count), the
partitions (with the SDK's own ``plan_backfill``, dynamic keys from the deployment's
store), and that each planned run can be queued (its assets, split by code location, as
a selection the run queue accepts). A request that fails any check is an
``InvalidBackfillRequest`` naming the field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from assay.automation.subsets import AssetSubset, subset_of_keys, subset_of_known_keys
from assay.backfill import BackfillPlan, plan_backfill
from assay.definitions.asset_key import AssetKey
from assay.errors import AssayError as SdkError
from assay.errors import InvalidSelection
from assay.graph import AssetGraph
from assay.partitions import (
    MultiPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinition,
    PartitionsError,
)
from assay.selection import select_keys
from assay.snapshot import DefinitionsSnapshot
from assay.snapshot_graph import SnapshotGraph, asset_graph_from_snapshots
from control_plane.backfills.errors import InvalidBackfillRequest
from control_plane.backfills.stored_state import Stage, Stages, StoredBackfill
from control_plane.catalog import queries as catalog_queries
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.models import LocationSnapshot, Materialization
from control_plane.runs.models import MAX_DAEMON_SELECTION
from control_plane.tenancy.models import CodeLocation, Deployment

DEFAULT_MAX_CONCURRENT_RUNS = 1
MAX_CONCURRENT_RUNS = 100
# A plan larger than this is refused: use a BackfillPolicy with more partitions per run.
MAX_PLANNED_RUNS = 50_000
MAX_SELECTION_CHARS = MAX_DAEMON_SELECTION  # Run.selection, the protocol's asset_selection


@dataclass(frozen=True)
class BackfillRequest:
    """What a person asked for; exactly one of the three partition fields is set."""

    selection: str = ""
    location_name: str = ""
    partition_range: tuple[str, str] | None = None
    partition_keys: tuple[str, ...] | None = None
    all_missing: bool = False
    max_concurrent_runs: int = DEFAULT_MAX_CONCURRENT_RUNS

    @property
    def partitions_field(self) -> str:
        if self.partition_range is not None:
            return "partition_range"
        return "partition_keys" if self.partition_keys is not None else "all_missing"


def plan_request(
    *, deployment: Deployment, request: BackfillRequest, now: datetime
) -> StoredBackfill:
    """The stored state of a new backfill, or ``InvalidBackfillRequest``."""
    chosen = [request.partition_range is not None, request.partition_keys is not None]
    if sum(chosen) + request.all_missing != 1:
        raise InvalidBackfillRequest(
            "say what to backfill: partition_range, partition_keys or all_missing",
            fields={"non_field_errors": ["Give partition_range, partition_keys or all_missing."]},
        )
    if not 1 <= request.max_concurrent_runs <= MAX_CONCURRENT_RUNS:
        raise InvalidBackfillRequest(
            fields={"max_concurrent_runs": [f"Must be from 1 to {MAX_CONCURRENT_RUNS}."]}
        )
    snapshots = _current_snapshots(deployment, request.location_name)
    rebuilt = asset_graph_from_snapshots(
        {name: DefinitionsSnapshot.from_json(s.snapshot_json) for name, s in snapshots.items()}
    )
    selected = _select(rebuilt, request)
    store = DeploymentDynamicPartitions(deployment)
    if request.partition_keys is not None:
        _check_keys(rebuilt.graph, selected, request.partition_keys, now, store)
    plan = _plan(deployment, rebuilt.graph, selected, request, now, store)
    stages: dict[tuple[AssetKey, ...], Stages] = {}
    for run in plan.runs:  # 365 days of the same assets share one entry
        if run.asset_keys not in stages:
            stages[run.asset_keys] = _stages(run.asset_keys, rebuilt, snapshots, request.selection)
    return StoredBackfill.new(plan, stages)


def _current_snapshots(deployment: Deployment, location_name: str) -> dict[str, LocationSnapshot]:
    """The loaded snapshot of every location (the whole graph), checking the named one."""
    rows = LocationSnapshot.objects.filter(
        deployment=deployment, is_current=True, status=LocationSnapshot.Status.OK
    ).select_related("code_location")
    snapshots = {s.code_location.name: s for s in rows}
    if location_name and location_name not in snapshots:
        exists = CodeLocation.objects.filter(deployment=deployment, name=location_name).exists()
        message = (
            f"Code location {location_name!r} has no loaded definitions: no agent has loaded it."
            if exists
            else f"No code location {location_name!r} in deployment {deployment.name!r}."
        )
        raise InvalidBackfillRequest(message, fields={"location": [message]})
    if not snapshots:
        message = f"No code location of deployment {deployment.name!r} is loaded yet."
        raise InvalidBackfillRequest(message, fields={"location": [message]})
    return snapshots


def _select(rebuilt: SnapshotGraph, request: BackfillRequest) -> set[AssetKey]:
    graph = rebuilt.graph
    try:
        selected = select_keys(graph, request.selection if request.selection.strip() else None)
    except InvalidSelection as error:
        raise InvalidBackfillRequest(str(error), fields={"selection": [str(error)]}) from None
    selected = {k for k in selected if graph.nodes[k].is_executable}
    if request.location_name:
        selected = {k for k in selected if rebuilt.location_of.get(k) == request.location_name}
    if not selected:
        where = f" in code location {request.location_name!r}" if request.location_name else ""
        message = f"The selection matches no asset to materialize{where}."
        raise InvalidBackfillRequest(message, fields={"selection": [message]})
    return selected


def _plan(
    deployment: Deployment,
    graph: AssetGraph,
    selected: set[AssetKey],
    request: BackfillRequest,
    now: datetime,
    store: DeploymentDynamicPartitions,
) -> BackfillPlan:
    field = request.partitions_field
    try:
        plan = plan_backfill(
            graph,
            sorted(selected, key=str),
            partition_key_range=PartitionKeyRange(*request.partition_range)
            if request.partition_range
            else None,
            partition_keys=list(request.partition_keys)
            if request.partition_keys is not None
            else None,
            missing_in=CatalogMaterializations(deployment, selected)
            if request.all_missing
            else None,
            current_time=now,
            max_concurrent_runs=request.max_concurrent_runs,
            dynamic_partitions_store=store,
        )
    except InvalidSelection as error:
        raise InvalidBackfillRequest(str(error), fields={"selection": [str(error)]}) from None
    except (SdkError, PartitionsError) as error:
        raise InvalidBackfillRequest(str(error), fields={field: [str(error)]}) from None
    if not plan.runs:
        message = "Nothing to backfill: every partition of the selection is materialized."
        raise InvalidBackfillRequest(message, fields={field: [message]})
    if len(plan.runs) > MAX_PLANNED_RUNS:
        message = (
            f"The backfill would launch {len(plan.runs):,} runs (at most {MAX_PLANNED_RUNS:,}): "
            "backfill a shorter range, or give the assets a BackfillPolicy with more "
            "partitions per run."
        )
        raise InvalidBackfillRequest(message, fields={field: [message]})
    return plan


def _check_keys(
    graph: AssetGraph,
    selected: set[AssetKey],
    keys: tuple[str, ...],
    now: datetime,
    store: DeploymentDynamicPartitions,
) -> None:
    """Every listed key must be a partition of a selected asset (or a date of a date x
    region asset): the planner would otherwise leave an unknown key out without a word."""
    definitions = {graph.nodes[k].spec.partitions_def for k in selected} - {None}
    readable = list(definitions) + [
        d.time_window_dimension.partitions_def
        for d in definitions
        if isinstance(d, MultiPartitionsDefinition) and d.time_window_dimension is not None
    ]
    for key in keys:
        if not any(d.has_partition_key(key, now, store) for d in readable):
            message = f"Partition {key!r} is not a partition of any selected asset."
            raise InvalidBackfillRequest(message, fields={"partition_keys": [message]})


class CatalogMaterializations:
    """The catalog as the planner's "what was materialized" view (for ``all_missing``):
    every partition with at least one recorded materialization, read in one query."""

    def __init__(self, deployment: Deployment, keys: Iterable[AssetKey]) -> None:
        self._partitions: dict[str, set[str]] = {}
        rows = (
            Materialization.objects.filter(
                deployment=deployment, asset_key__in=[k.to_user_string() for k in keys]
            )
            .values_list("asset_key", "partition")
            .distinct()
        )
        for asset_key, partition in rows:
            self._partitions.setdefault(asset_key, set()).add(partition)

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        seen = self._partitions.get(key.to_user_string(), set())
        if partitions_def is None:
            return subset_of_keys(None, [p for p in seen if p == ""])
        # History of an earlier partitioning is skipped (the planner subtracts this from
        # the partitions that exist now, so only those count).
        return subset_of_known_keys(partitions_def, sorted(p for p in seen if p))


def _stages(
    keys: tuple[AssetKey, ...],
    rebuilt: SnapshotGraph,
    snapshots: dict[str, LocationSnapshot],
    selection: str,
) -> Stages:
    """One planned run as queued runs: per code location, in levels so an asset runs after
    the assets of another location it reads in the same planned run."""
    graph, location_of = rebuilt.graph, rebuilt.location_of
    position = {k: i for i, k in enumerate(graph.toposorted)}
    in_run = set(keys)
    level: dict[AssetKey, int] = {}
    for key in sorted(keys, key=position.__getitem__):
        here = location_of[key]
        level[key] = max(
            (
                level[parent] + (location_of[parent] != here)
                for parent in graph.nodes[key].parents
                if parent in in_run
            ),
            default=0,
        )
    levels: dict[int, dict[str, list[str]]] = {}
    for key in sorted(keys, key=position.__getitem__):
        by_location = levels.setdefault(level[key], {})
        by_location.setdefault(location_of[key], []).append(key.to_user_string())
    return tuple(
        tuple(
            Stage(name, _selection_for(snapshots[name], names, selection), tuple(names))
            for name, names in sorted(levels[number].items())
        )
        for number in sorted(levels)
    )


def _selection_for(snapshot: LocationSnapshot, keys: list[str], selection: str) -> str:
    """The shorter of the backfill's own selection (when it means exactly ``keys`` in the
    location) and the keys themselves: a run stores it, and the agent receives it."""
    wanted = set(keys)
    candidates = sorted([", ".join(keys), selection.strip()], key=len)
    for candidate in candidates:
        if not candidate or len(candidate) > MAX_SELECTION_CHARS:
            continue
        try:
            resolved = catalog_queries.resolve_selection(snapshot=snapshot, selection=candidate)
        except InvalidSelection:
            continue
        if {d.asset_key for d in resolved} == wanted:
            return candidate
    location = snapshot.code_location.name
    message = (
        f"A run of this backfill would select {len(keys)} assets of code location "
        f"{location!r} by name, more than a run's selection holds ({MAX_SELECTION_CHARS} "
        "characters): select whole groups or a smaller part of the graph per backfill."
    )
    raise InvalidBackfillRequest(message, fields={"selection": [message]})
