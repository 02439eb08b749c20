"""`evaluate_automation_conditions`: one tick of declarative automation, pure.

Given the definitions, a read-only status view, the previous cursor and the time,
decide which asset partitions to request, group them into runs, and explain why.
Work is proportional to what changed: an asset is re-evaluated only when its own
status or a parent's changed, a parent is requested, its definition changed, time
moved its partitions or crons, or its previous evaluation left something transient
(see :func:`_needs_evaluation`). Everything else carries over from the cursor.
"""

from __future__ import annotations

import hashlib
import heapq
import weakref
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from assay.automation.collector import collector_paused
from assay.automation.condition import AutomationCondition, ConditionResult
from assay.automation.context import AssetContext, Dependency, TickContext
from assay.automation.cursor import AssetCursor, AutomationCursor
from assay.automation.errors import AutomationError
from assay.automation.status import StatusView
from assay.automation.subsets import AssetSubset, all_subset, empty_subset
from assay.definitions.asset_key import AssetKey
from assay.definitions.definitions import Definitions
from assay.graph import AssetGraph
from assay.partitions import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
    infer_partition_mapping,
)

AUTOMATION_TAG = "assay/automation"


@dataclass(frozen=True)
class RunRequest:
    """One run to launch: assets that share a partition key (or are all unpartitioned)."""

    asset_keys: tuple[AssetKey, ...]
    partition_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: {AUTOMATION_TAG: "true"})

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_keys": [k.to_user_string() for k in self.asset_keys],
            "partition_key": self.partition_key,
            "tags": dict(self.tags),
        }


@dataclass(frozen=True)
class AssetEvaluation:
    """Why one asset was or was not requested this tick.

    ``evaluated`` is False when the asset's inputs had not changed since the previous
    tick; ``explanation`` is then the previous tick's tree when it is still in memory.
    """

    key: AssetKey
    requested: AssetSubset
    explanation: ConditionResult | None
    evaluated: bool

    @property
    def num_requested(self) -> int:
        return len(self.requested)

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_key": self.key.to_user_string(),
            "num_requested": self.num_requested,
            "evaluated": self.evaluated,
            "explanation": None if self.explanation is None else self.explanation.to_dict(),
        }


@dataclass(frozen=True)
class AutomationResult:
    """What one tick decided, and the cursor to hand to the next tick."""

    evaluation_time: datetime
    requested: Mapping[AssetKey, AssetSubset]
    run_requests: tuple[RunRequest, ...]
    evaluations: Mapping[AssetKey, AssetEvaluation]
    cursor: AutomationCursor
    num_evaluated: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "evaluation_time": self.evaluation_time.isoformat(),
            "num_evaluated": self.num_evaluated,
            "requested": {k.to_user_string(): len(s) for k, s in self.requested.items()},
            "run_requests": [r.to_dict() for r in self.run_requests],
            "evaluations": [e.to_dict() for e in self.evaluations.values()],
        }


# -- what never changes between ticks for one graph -----------------------------------


@dataclass(frozen=True)
class _Automated:
    key: AssetKey
    condition: AutomationCondition
    fingerprint: str
    partitions_def: PartitionsDefinition | None
    code_version: str | None
    dependencies: tuple[Dependency, ...]
    children: tuple[AssetKey, ...]
    order: int


@dataclass
class _Plan:
    automated: dict[AssetKey, _Automated]
    partitions_defs: dict[AssetKey, PartitionsDefinition | None]
    children: dict[AssetKey, tuple[AssetKey, ...]]
    by_partitions_def: dict[PartitionsDefinition | None, list[AssetKey]]
    by_fingerprint: dict[str, tuple[AutomationCondition, list[AssetKey]]]


_plans: weakref.WeakKeyDictionary[AssetGraph, _Plan] = weakref.WeakKeyDictionary()


def _plan_for(graph: AssetGraph) -> _Plan:
    plan = _plans.get(graph)
    if plan is None:
        plan = _plans[graph] = _build_plan(graph)
    return plan


def _build_plan(graph: AssetGraph) -> _Plan:
    nodes = graph.nodes
    partitions_defs = {key: node.spec.partitions_def for key, node in nodes.items()}
    children = {key: tuple(node.children) for key, node in nodes.items()}
    automated: dict[AssetKey, _Automated] = {}
    by_pd: dict[PartitionsDefinition | None, list[AssetKey]] = {}
    by_fingerprint: dict[str, tuple[AutomationCondition, list[AssetKey]]] = {}
    for order, key in enumerate(graph.toposorted):
        node = nodes[key]
        condition = node.spec.automation_condition
        if condition is None or not node.is_materializable:
            continue
        if not isinstance(condition, AutomationCondition):
            raise AutomationError(
                f"asset '{key.to_user_string()}' has automation_condition={condition!r}, "
                "which is not an AutomationCondition"
            )
        mappings: dict[AssetKey, Any] = {}
        assets_def = node.assets_def
        if assets_def is not None:
            for param, parent in graph.inputs.get(assets_def.name, {}).items():
                asset_in = assets_def.ins.get(param)
                mapping = getattr(asset_in, "partition_mapping", None)
                if mapping is not None:
                    mappings[parent] = mapping
        pd = partitions_defs[key]
        deps = tuple(
            Dependency(
                parent,
                partitions_defs[parent],
                mappings.get(parent) or infer_partition_mapping(partitions_defs[parent], pd),
            )
            for parent in node.parents
        )
        fingerprint = condition_fingerprint(condition)
        automated[key] = _Automated(
            key, condition, fingerprint, pd, node.spec.code_version, deps, children[key], order
        )
        by_pd.setdefault(pd, []).append(key)
        by_fingerprint.setdefault(fingerprint, (condition, []))[1].append(key)
    return _Plan(automated, partitions_defs, children, by_pd, by_fingerprint)


def condition_fingerprint(condition: AutomationCondition) -> str:
    """A short, stable identity of a condition's expression (stored per asset in the cursor)."""
    return hashlib.sha256(condition.describe().encode()).hexdigest()[:16]


# -- the tick --------------------------------------------------------------------------


def evaluate_automation_conditions(
    *,
    defs: Definitions | AssetGraph,
    instance: StatusView,
    evaluation_time: datetime,
    cursor: AutomationCursor | str | None = None,
    incremental: bool = True,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> AutomationResult:
    """Evaluate every asset's automation condition once, as of ``evaluation_time``.

    ``instance`` is only read. ``cursor`` is the previous result's cursor (an object or
    its JSON); None means the first tick. Returns what to request and the next cursor.
    ``incremental=False`` re-evaluates every asset even when nothing it reads changed;
    the answer is the same (a property the tests check), only slower. Dynamic
    partition keys come from ``dynamic_partitions_store``, else from ``instance`` when
    it is one.
    """
    if dynamic_partitions_store is None and isinstance(instance, DynamicPartitionsStore):
        dynamic_partitions_store = instance
    with collector_paused():
        return _evaluate(
            defs,
            instance,
            evaluation_time,
            cursor,
            incremental=incremental,
            store=dynamic_partitions_store,
        )


def _evaluate(
    defs: Definitions | AssetGraph,
    instance: StatusView,
    evaluation_time: datetime,
    cursor: AutomationCursor | str | None,
    *,
    incremental: bool,
    store: DynamicPartitionsStore | None,
) -> AutomationResult:
    graph = defs.asset_graph if isinstance(defs, Definitions) else defs
    if not isinstance(evaluation_time, datetime):
        raise AutomationError(f"evaluation_time must be a datetime, got {evaluation_time!r}")
    now = evaluation_time.replace(tzinfo=UTC) if evaluation_time.tzinfo is None else evaluation_time
    now = now.astimezone(UTC)
    if isinstance(cursor, str):
        cursor = AutomationCursor.from_json(cursor)
    previous = cursor or AutomationCursor()
    if previous.evaluation_time is not None and now < previous.evaluation_time:
        raise AutomationError(
            f"evaluation_time {now.isoformat()} is before the previous tick's "
            f"{previous.evaluation_time.isoformat()}"
        )
    plan = _plan_for(graph)
    storage_id = instance.latest_storage_id()

    previous_requested: dict[AssetKey, AssetSubset] = {}
    for key in previous.requested:
        if key in plan.partitions_defs:
            subset = previous.requested_subset(key, plan.partitions_defs[key])
            if subset:
                previous_requested[key] = subset
    tick = TickContext(
        status=instance,
        evaluation_time=now,
        previous_evaluation_time=previous.evaluation_time,
        previous_storage_id=previous.storage_id,
        partitions_defs=plan.partitions_defs,
        previous_requested=previous_requested,
        dynamic_partitions_store=store,
    )

    if incremental:
        queue = _initial_queue(plan, previous, previous_requested, instance, tick)
    else:
        queue = set(plan.automated)
    heap = [(plan.automated[k].order, k) for k in queue]
    heapq.heapify(heap)
    assets: dict[AssetKey, AssetCursor | Mapping[str, Any]] = dict(previous.assets)
    unstable = set(previous.unstable)
    evaluations: dict[AssetKey, AssetEvaluation] = {}
    while heap:
        _, key = heapq.heappop(heap)
        item = plan.automated[key]
        entry, result, stable = _evaluate_asset(item, tick, previous)
        assets[key] = entry
        if stable:
            unstable.discard(key)
        else:
            unstable.add(key)
        requested = result.true_subset
        if requested:
            tick.requested[key] = requested
            for child in item.children:
                if child in plan.automated and child not in queue:
                    queue.add(child)
                    heapq.heappush(heap, (plan.automated[child].order, child))
        evaluations[key] = AssetEvaluation(key, requested, result, evaluated=True)

    if previous.plan_token is not plan:
        for key in list(assets):
            if key not in plan.automated:
                del assets[key]
                unstable.discard(key)

    new_cursor = AutomationCursor(
        evaluation_time=now,
        storage_id=storage_id,
        assets=assets,
        requested=dict(tick.requested),
        unstable=frozenset(unstable),
        plan_token=plan,
    )
    ordered = {k: tick.requested[k] for k in graph.sort(tick.requested)}
    return AutomationResult(
        evaluation_time=now,
        requested=ordered,
        run_requests=tuple(group_run_requests(ordered)),
        evaluations=_Evaluations(plan, evaluations, assets),
        cursor=new_cursor,
        num_evaluated=len(queue),
    )


class _Evaluations(Mapping[AssetKey, AssetEvaluation]):
    """Every automated asset's evaluation; those carried over are built when asked for,
    so a small tick on a large graph does not allocate one object per asset."""

    def __init__(
        self,
        plan: _Plan,
        evaluated: dict[AssetKey, AssetEvaluation],
        assets: Mapping[AssetKey, AssetCursor | Mapping[str, Any]],
    ) -> None:
        self._plan = plan
        self._evaluated = evaluated
        self._assets = assets

    def __getitem__(self, key: AssetKey) -> AssetEvaluation:
        found = self._evaluated.get(key)
        if found is not None:
            return found
        item = self._plan.automated[key]
        entry = self._assets.get(key)
        explanation = entry.explanation if isinstance(entry, AssetCursor) else None
        return AssetEvaluation(key, empty_subset(item.partitions_def), explanation, evaluated=False)

    def __iter__(self) -> Iterator[AssetKey]:
        return iter(self._plan.automated)

    def __len__(self) -> int:
        return len(self._plan.automated)


def _initial_queue(
    plan: _Plan,
    previous: AutomationCursor,
    previous_requested: Mapping[AssetKey, AssetSubset],
    status: StatusView,
    tick: TickContext,
) -> set[AssetKey]:
    """The assets whose inputs may have changed since the previous tick.

    An asset evaluated with unchanged inputs gives the same answer when its previous
    evaluation was *stable*: nothing transient was true, no node memory changed and
    nothing was requested. So a tick evaluates the unstable assets, those whose (or
    whose parents') status changed, children of assets requested last tick, assets
    whose condition, code version or partition count changed, and those with a cron
    that ticked; evaluation then adds the children of whatever it requests.
    """
    automated = plan.automated
    if previous.is_first_tick or previous.storage_id is None:
        return set(automated)
    queue: set[AssetKey] = {k for k in previous.unstable if k in automated}
    changed = status.changed_asset_keys(after_storage_id=previous.storage_id)
    touched = set(changed) | set(previous_requested)
    for key in touched:
        if key in automated:
            queue.add(key)
        for child in plan.children.get(key, ()):
            if child in automated:
                queue.add(child)
    assert previous.evaluation_time is not None
    for pd, keys in plan.by_partitions_def.items():
        if pd is None:
            continue
        count = len(tick.all_subset(pd))
        if not isinstance(pd, TimeWindowPartitionsDefinition) or previous.plan_token is not plan:
            # Keys that come from a store or a product: compare with each asset's memory.
            queue.update(k for k in keys if _num_partitions(previous, k) != count)
        elif len(all_subset(pd, previous.evaluation_time)) != count:
            queue.update(keys)
    for condition, keys in plan.by_fingerprint.values():
        if condition.changes_between(previous.evaluation_time, tick.evaluation_time):
            queue.update(keys)
    if previous.plan_token is plan:
        return queue
    for key, item in automated.items():
        entry = previous.assets.get(key)
        if entry is None:
            queue.add(key)
        elif isinstance(entry, AssetCursor):
            if entry.condition != item.fingerprint or entry.code_version != item.code_version:
                queue.add(key)
        elif (
            entry.get("condition") != item.fingerprint
            or entry.get("code_version") != item.code_version
        ):
            queue.add(key)
    return queue


def _num_partitions(previous: AutomationCursor, key: AssetKey) -> int | None:
    entry = previous.assets.get(key)
    if entry is None:
        return None
    if isinstance(entry, AssetCursor):
        return entry.num_partitions
    return entry.get("num_partitions")


def _evaluate_asset(
    item: _Automated, tick: TickContext, previous: AutomationCursor
) -> tuple[AssetCursor, ConditionResult, bool]:
    prior = previous.asset(item.key, item.partitions_def)
    same_condition = prior is not None and prior.condition == item.fingerprint
    context = AssetContext(
        tick,
        key=item.key,
        partitions_def=item.partitions_def,
        dependencies=item.dependencies,
        code_version=item.code_version,
        previous_code_version=None if prior is None else prior.code_version,
        has_previous_evaluation=prior is not None,
        previous_state=prior.node_state if same_condition and prior is not None else {},
    )
    candidates = tick.all_subset(item.partitions_def)
    result = item.condition.evaluate(context, candidates, "0")
    stable = context.stable and not result.true_subset
    entry = AssetCursor(
        condition=item.fingerprint,
        code_version=item.code_version,
        num_partitions=len(candidates),
        node_state=context.state,
        explanation=result,
    )
    return entry, result, stable


def group_run_requests(requested: Mapping[AssetKey, AssetSubset]) -> Iterable[RunRequest]:
    """One run per partition key across assets sharing a partitions definition, and one
    run for every unpartitioned asset; parents come before children within a run."""
    unpartitioned = [key for key, subset in requested.items() if subset.partitions_def is None]
    if unpartitioned:
        yield RunRequest(tuple(unpartitioned))
    by_def: dict[Any, dict[str, list[AssetKey]]] = {}
    for key, subset in requested.items():
        pd = subset.partitions_def
        if pd is None:
            continue
        runs = by_def.setdefault(pd, {})
        for partition in subset:
            runs.setdefault(str(partition), []).append(key)
    for runs in by_def.values():
        for partition, keys in runs.items():
            yield RunRequest(tuple(keys), partition)
