"""Running a run: `materialize()` and `execute_run()` plan it, emit its run events and
hand its steps to an executor; the in-process executor (the default, and what the agent's
run process uses) is here too, a loop over `step.execute_step`."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.assets import AssetsDefinition, AssetSpec
from assay.definitions.checks import AssetChecksDefinition
from assay.definitions.definitions import Definitions
from assay.definitions.io_managers import FilesystemIOManager, InMemoryIOManager
from assay.errors import AssayError, ExecutionConfigError
from assay.execution.events import Event, EventType
from assay.execution.multiprocess import MultiprocessExecutor, WorkerInitError
from assay.execution.partitions import assign_partitions, describe_request
from assay.execution.plan import ExecutionPlan, build_plan
from assay.execution.result import ExecutionResult, io_loader
from assay.execution.run_resources import RunResources
from assay.execution.step import (
    SKIPPED,
    RunState,
    StepOutcome,
    StepRuntime,
    execute_step,
    skipped_event,
)
from assay.graph import AssetGraph
from assay.partitions import DynamicPartitionsStore, PartitionKeyRange
from assay.selection import Selection, select_keys


class InProcessExecutor:
    """Default executor: steps run one after another in the calling process; no process
    overhead, values can stay in memory, easy to debug."""

    name = "in_process"

    def execute(self, plan: ExecutionPlan, rt: StepRuntime) -> RunState:
        state = RunState(plan)
        emit = rt.emit
        for step in plan.steps:
            reason = state.skip_reason(step)
            if reason is not None:
                emit(skipped_event(rt.run_id, step, reason))
                state.record(step, StepOutcome(SKIPPED))
                continue
            state.record(step, execute_step(step, rt))
        return state


Executor = InProcessExecutor | MultiprocessExecutor

# The `run_failed` payload of a run stopped by Ctrl-C (KeyboardInterrupt) in either executor.
INTERRUPTED_PAYLOAD = {"message": "run interrupted (Ctrl-C)", "reason": "interrupted"}


def resolve_executor(
    executor: str | Executor | None, max_concurrent: int | None = None
) -> Executor:
    if executor is None or executor == "in_process":
        return InProcessExecutor()
    if executor == "multiprocess":
        return MultiprocessExecutor(max_concurrent)
    if isinstance(executor, InProcessExecutor | MultiprocessExecutor):
        return executor
    raise ExecutionConfigError(f"unknown executor {executor!r}: use 'in_process' or 'multiprocess'")


def materialize(
    assets: Iterable[AssetsDefinition | AssetSpec | AssetChecksDefinition] | Definitions,
    resources: Mapping[str, Any] | None = None,
    selection: Selection = None,
    instance: Any = None,
    *,
    executor: str | Executor | None = None,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    on_event: Callable[[Event], None] | None = None,
    raise_on_error: bool = False,
    partition_key: str | None = None,
    partition_key_range: PartitionKeyRange | None = None,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> ExecutionResult:
    """Run assets (and their checks) with no server; the result holds every event.

    `instance`, when given, receives each event through `instance.store_event(event)`.
    Without an `io_manager` resource values stay in memory (in-process) or go to a
    temporary directory (multiprocess). Partitioned assets run for `partition_key`
    (or every key of `partition_key_range`) as of `current_time` (default: now).
    """
    if isinstance(assets, Definitions):
        defs = assets
        all_resources = {**defs.resources, **(resources or {})}
        graph = defs.asset_graph if not resources else None
        items: list[Any] = [*defs.assets, *defs.asset_checks]
    else:
        items = list(assets)
        all_resources = dict(resources or {})
        graph = None
    chosen = resolve_executor(executor)
    if "io_manager" not in all_resources:
        if isinstance(chosen, MultiprocessExecutor):
            all_resources["io_manager"] = FilesystemIOManager(
                base_dir=tempfile.mkdtemp(prefix="assay-run-")
            )
        else:
            all_resources["io_manager"] = InMemoryIOManager()
    if graph is None:
        graph = AssetGraph(
            [a for a in items if not isinstance(a, AssetChecksDefinition)],
            [a for a in items if isinstance(a, AssetChecksDefinition)],
            all_resources.keys(),
        )
    return execute_run(
        graph,
        all_resources,
        selection,
        executor=chosen,
        run_id=run_id,
        tags=tags,
        on_event=on_event,
        instance=instance,
        raise_on_error=raise_on_error,
        partition_key=partition_key,
        partition_key_range=partition_key_range,
        current_time=current_time,
        dynamic_partitions_store=dynamic_partitions_store,
    )


def execute_run(
    graph: AssetGraph,
    resources: Mapping[str, Any],
    selection: Selection,
    *,
    executor: Executor,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
    on_event: Callable[[Event], None] | None = None,
    instance: Any = None,
    raise_on_error: bool = False,
    partition_key: str | None = None,
    partition_key_range: PartitionKeyRange | None = None,
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> ExecutionResult:
    """Plan and execute a run over an already-validated graph; emits the full event stream."""
    selected = select_keys(graph, selection)
    plan = build_plan(graph, selected, resources)
    if graph.has_partitions or partition_key is not None or partition_key_range is not None:
        assign_partitions(
            plan,
            partition_key=partition_key,
            partition_key_range=partition_key_range,
            current_time=current_time,
            dynamic_partitions_store=dynamic_partitions_store,
        )
    run_id = run_id or uuid.uuid4().hex
    tags = dict(tags or {})
    payload = (
        executor.prepare(plan, resources, run_id=run_id, tags=tags)
        if isinstance(executor, MultiprocessExecutor)
        else b""
    )
    events: list[Event] = []
    append = events.append
    store = getattr(instance, "store_event", None)
    if on_event is None and store is None:
        emit = append
    else:

        def emit(event: Event) -> None:
            append(event)
            if store is not None:
                store(event)
            if on_event is not None:
                on_event(event)

    emit(
        Event(
            EventType.RUN_STARTED,
            run_id,
            payload={
                "executor": executor.name,
                "steps": len(plan.steps),
                "selection": selection if isinstance(selection, str) else None,
                "tags": tags,
                **describe_request(partition_key, partition_key_range),
            },
        )
    )
    try:
        state, outputs, failure = _execute(
            plan, executor, payload, StepRuntime(run_id, graph, resources, emit, tags=tags)
        )
    except KeyboardInterrupt:
        # End the run before giving up, so no instance shows it running forever.
        emit(Event(EventType.RUN_FAILED, run_id, payload=dict(INTERRUPTED_PAYLOAD)))
        raise
    if failure is None and state is not None:
        failed = state.failed_steps
        blocked = list(state.blocked_keys.values())
        if failed:
            failure = _listed("step", failed, "failed")
        elif blocked:
            failure = _listed("blocking check", blocked, "failed")
    if failure is None:
        emit(Event(EventType.RUN_SUCCEEDED, run_id, payload={"steps": len(plan.steps)}))
    else:
        emit(Event(EventType.RUN_FAILED, run_id, payload={"message": failure}))
    result = ExecutionResult(
        run_id=run_id,
        success=failure is None,
        events=events,
        graph=graph,
        outputs=outputs,
        load_output=io_loader(graph, dict(resources), run_id),
        outputs_captured=isinstance(executor, InProcessExecutor),
    )
    if raise_on_error and failure is not None:
        raise AssayError(f"run {run_id} failed: {failure}")
    return result


def _execute(
    plan: ExecutionPlan, executor: Executor, payload: bytes, rt: StepRuntime
) -> tuple[RunState | None, dict[AssetKey, Any], str | None]:
    """Run the plan's steps: (state, in-memory outputs, why the run could not start).

    `rt.resources` are the run's resource definitions; in-process they are opened here,
    and the multiprocess executor's workers open their own."""
    outputs: dict[AssetKey, Any] = {}
    if not isinstance(executor, InProcessExecutor):
        try:
            state = executor.execute(plan, replace(rt, capture_outputs=False), payload)
        except WorkerInitError as exc:
            return None, outputs, str(exc)
        return state, outputs, None
    run_resources = RunResources(rt.resources, plan.resource_keys, rt.run_id)
    try:
        opened = run_resources.open()
    except AssayError as exc:
        return None, outputs, str(exc)
    try:
        state = executor.execute(plan, replace(rt, resources=opened))
    finally:
        for error in run_resources.close():
            rt.emit(Event(EventType.LOG, rt.run_id, payload={"level": "ERROR", "message": error}))
    for outcome in state.outcomes.values():
        outputs.update(outcome.outputs)
    return state, outputs, None


def _listed(noun: str, names: list[str], verb: str) -> str:
    """`step 'a' failed` / `2 steps failed: 'a', 'b'`."""
    if len(names) == 1:
        return f"{noun} '{names[0]}' {verb}"
    return f"{len(names)} {noun}s {verb}: {', '.join(repr(n) for n in names)}"
