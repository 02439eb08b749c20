"""The result of a run: success, the ordered event stream, outputs and check evaluations."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.definitions.io_managers import InputContext
from assay.definitions.resources import ConfigurableResource
from assay.errors import AssayError
from assay.execution.events import Event, EventType
from assay.graph import AssetGraph


@dataclass(frozen=True)
class AssetCheckEvaluation:
    """One check's outcome, as users read it from a result."""

    asset_key: AssetKey
    check_name: str
    passed: bool
    severity: str
    blocking: bool
    metadata: dict[str, Any]


class ExecutionResult:
    """What `materialize()` returns: inspect it in tests instead of reading logs."""

    def __init__(
        self,
        *,
        run_id: str,
        success: bool,
        events: list[Event],
        graph: AssetGraph,
        outputs: dict[AssetKey, Any],
        load_output: Callable[[AssetKey, list[str | None]], Any],
        outputs_captured: bool = False,
    ) -> None:
        self.run_id = run_id
        self.success = success
        self.events = events
        self._graph = graph
        self._outputs = outputs
        self._load_output = load_output
        # In-process runs keep every stored value in `outputs`; others load from IO managers.
        self._outputs_captured = outputs_captured

    def all_events(self) -> list[Event]:
        return list(self.events)

    def _key(self, node: CoercibleToAssetKey) -> AssetKey:
        """The key of an asset of this run's definitions, by key or (unique) name."""
        key = AssetKey.from_coercible(node)
        if key in self._graph.nodes:
            return key
        if isinstance(node, str) and "/" not in node:
            matches = [k for k in self._graph.nodes if k.name == node]
            if len(matches) == 1:
                return matches[0]
        raise AssayError(f"no asset '{key}' in this run's definitions{self._graph.suggest(key)}")

    def output_for_node(self, node: CoercibleToAssetKey) -> Any:
        """The value an asset produced in this run (by key or asset name)."""
        key = self._key(node)
        if key in self._outputs:
            return self._outputs[key]
        partitions = [
            e.partition
            for e in self.events
            if e.type is EventType.ASSET_MATERIALIZATION and e.asset_key == key
        ]
        if not partitions:
            raise AssayError(f"asset '{key}' was not materialized in run {self.run_id}")
        if self._outputs_captured:
            raise AssayError(
                f"asset '{key}' stored no value in this run: it returned a MaterializeResult "
                "(it writes its data itself); read its metadata with "
                "asset_materializations_for_node()"
            )
        return self._load_output(key, partitions)

    def asset_materializations_for_node(self, node: CoercibleToAssetKey) -> list[Event]:
        key = self._key(node)
        return [
            e
            for e in self.events
            if e.type is EventType.ASSET_MATERIALIZATION and e.asset_key == key
        ]

    def get_asset_materialization_events(self) -> list[Event]:
        return [e for e in self.events if e.type is EventType.ASSET_MATERIALIZATION]

    def get_asset_observation_events(self) -> list[Event]:
        return [e for e in self.events if e.type is EventType.ASSET_OBSERVATION]

    def get_asset_check_evaluations(self) -> list[AssetCheckEvaluation]:
        out = []
        for e in self.events:
            if e.type is EventType.ASSET_CHECK_EVALUATION:
                p = e.payload
                out.append(
                    AssetCheckEvaluation(
                        e.asset_key,  # type: ignore[arg-type]
                        p["check_name"],
                        p["passed"],
                        p["severity"],
                        p["blocking"],
                        p["metadata"],
                    )
                )
        return out

    def get_step_failure_events(self) -> list[Event]:
        return [e for e in self.events if e.type is EventType.STEP_FAILED]

    def get_step_skipped_events(self) -> list[Event]:
        return [e for e in self.events if e.type is EventType.STEP_SKIPPED]

    @property
    def materialized_keys(self) -> list[AssetKey]:
        return [e.asset_key for e in self.get_asset_materialization_events()]  # type: ignore[misc]

    @property
    def skipped_steps(self) -> list[str]:
        return [e.step_key for e in self.get_step_skipped_events()]  # type: ignore[misc]

    @property
    def failure_message(self) -> str | None:
        for e in self.events:
            if e.type is EventType.RUN_FAILED:
                return e.message
        return None

    def __repr__(self) -> str:
        return (
            f"<ExecutionResult run={self.run_id} success={self.success} events={len(self.events)}>"
        )


def io_loader(
    graph: AssetGraph, resources: dict[str, Any], run_id: str
) -> Callable[[AssetKey, list[str | None]], Any]:
    """Load a value a run stored: one partition's value, or `{partition: value}` for several."""

    def load(key: AssetKey, partitions: list[str | None]) -> Any:
        assets_def = graph.nodes[key].assets_def
        io_key = assets_def.io_manager_key if assets_def else "io_manager"
        io_manager = resources[io_key]
        if isinstance(io_manager, ConfigurableResource):
            io_manager = io_manager.with_resolved_env()  # e.g. base_dir=EnvVar(...)
        if len(partitions) == 1:
            return io_manager.load_input(InputContext(key, run_id, "result", partitions[0]))
        return {
            pk: io_manager.load_input(InputContext(key, run_id, "result", pk)) for pk in partitions
        }

    return load
