"""The execution plan: which steps run, and what each waits for."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetsDefinition
from assay.definitions.checks import AssetChecksDefinition
from assay.errors import ResourceError
from assay.graph import AssetGraph

if TYPE_CHECKING:
    from assay.execution.partitions import StepPartitions

ASSET = "asset"
OBSERVE = "observe"
CHECK = "check"


@dataclass
class Step:
    """One unit of work: an asset function (all its keys) or one check."""

    key: str
    kind: str
    assets_def: AssetsDefinition | None = None
    check_def: AssetChecksDefinition | None = None
    asset_keys: tuple[AssetKey, ...] = ()
    upstream: tuple[str, ...] = ()
    blocking_checks: tuple[str, ...] = ()
    resource_keys: frozenset[str] = field(default_factory=frozenset)
    # Set by `assign_partitions` when the step's assets (or inputs) are partitioned.
    partitions: StepPartitions | None = None

    @property
    def primary_key(self) -> AssetKey | None:
        return self.asset_keys[0] if self.asset_keys else None


@dataclass
class ExecutionPlan:
    """Steps in a valid order (dependencies before dependents) plus the graph they came from."""

    graph: AssetGraph
    steps: list[Step]
    steps_by_key: dict[str, Step]
    resource_keys: frozenset[str]

    @property
    def downstream_of(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {s.key: [] for s in self.steps}
        for step in self.steps:
            for up in step.upstream:
                out[up].append(step.key)
        return out


def build_plan(
    graph: AssetGraph, selected: set[AssetKey], resources: Mapping[str, Any]
) -> ExecutionPlan:
    """Turn selected asset keys into steps; checks on selected assets come along."""
    nodes = graph.nodes
    step_of_key: dict[AssetKey, str] = {}
    steps: list[Step] = []
    by_key: dict[str, Step] = {}
    for key in graph.toposorted:
        if key not in selected:
            continue
        node = nodes[key]
        assets_def = node.assets_def
        if assets_def is None:
            continue  # external: nothing to run
        name = assets_def.name
        if name in by_key:
            step_of_key[key] = name
            continue
        keys = assets_def.keys
        if assets_def.can_subset:
            keys = tuple(k for k in keys if k in selected)
        step = Step(
            key=name,
            kind=OBSERVE if assets_def.is_observable else ASSET,
            assets_def=assets_def,
            asset_keys=keys,
            resource_keys=_resource_keys_of(graph, name, assets_def),
        )
        by_key[name] = step
        steps.append(step)
        for k in keys:
            step_of_key[k] = name
    # Dependencies between steps, then the checks (placed right after their asset).
    checks_by_asset = graph.checks_by_asset
    ordered: list[Step] = []
    for step in steps:
        upstream: dict[str, None] = {}
        blocking: dict[str, None] = {}
        for key in step.asset_keys:
            for parent in nodes[key].parents:
                parent_step = step_of_key.get(parent)
                if parent_step is None or parent_step == step.key:
                    continue
                upstream[parent_step] = None
                for check in checks_by_asset.get(parent, ()):
                    if check.blocking:
                        upstream[check.name] = None
                        blocking[check.name] = None
        step.upstream = tuple(upstream)
        step.blocking_checks = tuple(blocking)
        ordered.append(step)
        for key in step.asset_keys:
            for check in checks_by_asset.get(key, ()):
                check_step = Step(
                    key=check.name,
                    kind=CHECK,
                    check_def=check,
                    asset_keys=(key,),
                    upstream=(step.key,),
                    resource_keys=_resource_keys_of(graph, check.name, check),
                )
                by_key[check.name] = check_step
                ordered.append(check_step)
    # Each check sits right after its asset, and assets are in topological order, so every
    # step still comes after everything it waits for.
    resource_keys: set[str] = set()
    for step in ordered:
        resource_keys |= step.resource_keys
    missing = sorted(resource_keys - set(resources))
    if missing:
        needed_by = {key: [s.key for s in ordered if key in s.resource_keys][:3] for key in missing}
        listed = "; ".join(f"'{k}' (needed by {', '.join(v)})" for k, v in needed_by.items())
        raise ResourceError(
            f"resource{'s' if len(missing) > 1 else ''} not provided: {listed}; "
            f"provided: {', '.join(sorted(resources)) or 'none'}"
        )
    return ExecutionPlan(graph, ordered, by_key, frozenset(resource_keys))


def _resource_keys_of(
    graph: AssetGraph, name: str, definition: AssetsDefinition | AssetChecksDefinition
) -> frozenset[str]:
    keys = set(definition.resource_params) | set(definition.required_resource_keys)
    keys |= set(graph.extra_resource_params.get(name, ()))
    if isinstance(definition, AssetsDefinition) and not definition.is_observable:
        keys.add(definition.io_manager_key)
    # Loading inputs needs the IO managers of the upstream assets.
    for upstream_key in graph.inputs.get(name, {}).values():
        upstream_def = graph.nodes[upstream_key].assets_def
        keys.add(upstream_def.io_manager_key if upstream_def else "io_manager")
    return frozenset(keys)
