"""Executing one step: load inputs, call user code, store outputs, emit events; and
`RunState`, the step outcomes so far and why a step must be skipped.

Shared by the in-process executor and the multiprocess executor (its workers run the
steps, its parent keeps the state), so both behave and skip identically.
"""

from __future__ import annotations

import inspect
import os
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.checks import AssetCheckResult, AssetCheckSeverity
from assay.definitions.io_managers import InputContext, OutputContext
from assay.definitions.results import (
    AssetFailure,
    AssetObservation,
    MaterializeResult,
    Output,
    normalize_metadata,
)
from assay.errors import AssayError
from assay.execution.context import AssetExecutionContext, RunLogger
from assay.execution.events import Event, EventType
from assay.execution.plan import CHECK, OBSERVE, ExecutionPlan, Step
from assay.graph import AssetGraph

_EXECUTION_DIR = str(Path(__file__).resolve().parent) + os.sep

SUCCESS = "success"
FAILURE = "failure"
SKIPPED = "skipped"


@dataclass
class StepOutcome:
    status: str
    # (asset key, failed blocking check name) pairs: downstream of these keys must not run.
    blocked: tuple[tuple[AssetKey, str], ...] = ()
    outputs: dict[AssetKey, Any] = field(default_factory=dict)
    # Assets of a subsettable step that failed or were skipped (`AssetFailure`) while the
    # rest materialized: only what depends on these is skipped.
    failed_keys: tuple[AssetKey, ...] = ()


class RunState:
    """Outcomes so far; decides skips so every executor applies the same rules."""

    def __init__(self, plan: ExecutionPlan) -> None:
        self.plan = plan
        self.outcomes: dict[str, StepOutcome] = {}
        self.blocked_keys: dict[AssetKey, str] = {}

    def record(self, step: Step, outcome: StepOutcome) -> None:
        self.outcomes[step.key] = outcome
        for key, check_name in outcome.blocked:
            self.blocked_keys.setdefault(key, f"{key.to_user_string()}:{check_name}")

    def is_ready(self, step: Step) -> bool:
        outcomes = self.outcomes
        return all(up in outcomes for up in step.upstream)

    def skip_reason(self, step: Step) -> str | None:
        """Why `step` cannot run (an upstream failed or a blocking check failed), or None."""
        outcomes = self.outcomes
        for up in step.upstream:
            outcome = outcomes[up]
            if outcome.failed_keys:
                # Some assets of a subsettable step failed: only what reads those waits.
                failed = self._reads_any(step, set(outcome.failed_keys))
                if failed is None:
                    continue
                return (
                    f"upstream asset '{failed.to_user_string()}' of step '{up}' did not materialize"
                )
            status = outcome.status
            if status == SUCCESS:
                continue
            up_step = self.plan.steps_by_key[up]
            verb = "failed" if status == FAILURE else "was skipped"
            if step.kind == CHECK:
                return f"asset step '{up}' {verb}, so its check did not run"
            what = "check" if up_step.kind == CHECK else "upstream step"
            return f"{what} '{up}' {verb}"
        if self.blocked_keys and step.kind != CHECK:
            nodes = self.plan.graph.nodes
            for key in step.asset_keys:
                for parent in nodes[key].parents:
                    if parent in self.blocked_keys:
                        return f"blocking check '{self.blocked_keys[parent]}' failed"
        return None

    def _reads_any(self, step: Step, keys: set[AssetKey]) -> AssetKey | None:
        """The first of `keys` that `step` checks (a check step) or depends on (an asset step)."""
        if step.kind == CHECK:
            return next((k for k in step.asset_keys if k in keys), None)
        nodes = self.plan.graph.nodes
        for key in step.asset_keys:
            for parent in nodes[key].parents:
                if parent in keys:
                    return parent
        return None

    @property
    def failed_steps(self) -> list[str]:
        return [k for k, o in self.outcomes.items() if o.status == FAILURE]

    @property
    def skipped_steps(self) -> list[str]:
        return [k for k, o in self.outcomes.items() if o.status == SKIPPED]


@dataclass
class StepRuntime:
    """What a step needs from its run: ids, the graph, opened resources, where events go."""

    run_id: str
    graph: AssetGraph
    resources: Mapping[str, Any]
    emit: Callable[[Event], None]
    capture_outputs: bool = True
    tags: Mapping[str, str] = field(default_factory=dict)


def execute_step(step: Step, rt: StepRuntime) -> StepOutcome:
    """Run one step to completion; never raises for user errors (they become events)."""
    emit = rt.emit
    run_id = rt.run_id
    emit(step_event(EventType.STEP_STARTED, run_id, step))
    started = time.perf_counter()
    try:
        if step.kind == CHECK:
            outcome = _run_check(step, rt)
        elif step.kind == OBSERVE:
            outcome = _run_observation(step, rt)
        else:
            outcome = _run_asset(step, rt)
    except (Exception, SystemExit) as exc:
        # sys.exit() in user code ends its step, not the run (nor the worker process).
        emit(failure_event(run_id, step, exc))
        return StepOutcome(FAILURE)
    if outcome.status == SUCCESS:
        duration = {"duration_s": round(time.perf_counter() - started, 6)}
        emit(step_event(EventType.STEP_SUCCEEDED, run_id, step, duration))
    return outcome


def step_event(
    kind: EventType, run_id: str, step: Step, payload: dict[str, Any] | None = None
) -> Event:
    """A step's lifecycle event, saying which partitions the step covers.

    One partition: the event's `partition`. Several (a single-run backfill): `partition`
    stays None and the payload carries `partition_key_range` ([first, last], for people)
    and `partition_subset` (the exact set, `PartitionsSubset.to_serializable()`), so a
    status store marks every one of them in progress or failed.
    """
    body = dict(payload or {})
    sp = step.partitions
    if sp is not None and len(sp.keys) > 1:
        body["partition_key_range"] = [sp.keys[0], sp.keys[-1]]
        body["partition_subset"] = sp.serialized_subset
    return Event(kind, run_id, step.primary_key, step.key, body, _event_partition(step))


def skipped_event(run_id: str, step: Step, reason: str) -> Event:
    """STEP_SKIPPED with why (an upstream step or a blocking check failed)."""
    payload = {"message": f"skipped '{step.key}': {reason}", "reason": reason}
    return step_event(EventType.STEP_SKIPPED, run_id, step, payload)


def _event_partition(step: Step) -> str | None:
    """The partition a step's events carry: its key when the step covers exactly one."""
    sp = step.partitions
    return sp.single_key if sp is not None else None


def failure_event(run_id: str, step: Step, exc: BaseException) -> Event:
    """A STEP_FAILED event with a one-line summary and the user-code traceback."""
    summary = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AssayError):
        stack = ""
    else:
        frames = traceback.extract_tb(exc.__traceback__)
        # Drop Assay's own frames so the traceback starts in user code.
        user = [f for f in frames if not f.filename.startswith(_EXECUTION_DIR)]
        stack = "".join(traceback.format_list(user or frames))
        stack += "".join(traceback.format_exception_only(type(exc), exc))
    return step_event(
        EventType.STEP_FAILED,
        run_id,
        step,
        {
            "message": f"step '{step.key}' failed: {summary}",
            "error": {"class": type(exc).__name__, "message": str(exc), "stack": stack},
        },
    )


def _call_args(
    definition: Any, step: Step, rt: StepRuntime, *, check_name: str | None = None
) -> tuple[dict[str, Any], AssetExecutionContext | None]:
    graph = rt.graph
    name = check_name or step.key
    kwargs: dict[str, Any] = {}
    sp = step.partitions
    for param, upstream_key in graph.inputs.get(name, {}).items():
        upstream_def = graph.nodes[upstream_key].assets_def
        io_key = upstream_def.io_manager_key if upstream_def else "io_manager"
        wanted = sp.inputs.get(param) if sp is not None else None
        if wanted is None:
            kwargs[param] = rt.resources[io_key].load_input(
                InputContext(upstream_key, rt.run_id, step.key)
            )
        else:
            kwargs[param] = _load_partitions(
                rt.resources[io_key], upstream_key, rt.run_id, step.key, wanted.keys, wanted.as_dict
            )
    for param in definition.resource_params:
        kwargs[param] = rt.resources[param]
    for param in graph.extra_resource_params.get(name, ()):
        kwargs[param] = rt.resources[param]
    context = None
    if definition.context_param is not None:
        context = AssetExecutionContext(
            run_id=rt.run_id,
            step_key=step.key,
            asset_keys=step.asset_keys,
            resources={k: rt.resources[k] for k in step.resource_keys},
            log=RunLogger(rt.run_id, step.key, rt.emit),
            check_name=check_name,
            run_tags=rt.tags,
            partition_keys=sp.keys if sp is not None else (),
            partition_time_window=sp.time_window if sp is not None else None,
        )
        kwargs[definition.context_param] = context
    return kwargs, context


def _load_partitions(
    io_manager: Any,
    key: AssetKey,
    run_id: str,
    step_key: str,
    partition_keys: Sequence[str],
    as_dict: bool,
) -> Any:
    """One upstream partition's value, or `{partition_key: value}` for several."""
    if not as_dict:
        return io_manager.load_input(InputContext(key, run_id, step_key, partition_keys[0]))
    return {
        pk: io_manager.load_input(InputContext(key, run_id, step_key, pk)) for pk in partition_keys
    }


def _run_asset(step: Step, rt: StepRuntime) -> StepOutcome:
    assets_def = step.assets_def
    assert assets_def is not None
    kwargs, context = _call_args(assets_def, step, rt)
    result = assets_def.fn(**kwargs)  # type: ignore[misc]
    partitions: Sequence[str | None] = _NO_PARTITION
    if step.partitions is not None and step.partitions.keys:
        partitions = step.partitions.keys
    items = _as_items(result, step.asset_keys, assets_def.name)
    io_manager = rt.resources[assets_def.io_manager_key]
    outcome = StepOutcome(SUCCESS)
    done: set[AssetKey] = set()
    blocking_checks = {c.name for c in assets_def.check_specs if getattr(c, "blocking", False)}
    blocked: list[tuple[AssetKey, str]] = []
    failures: dict[AssetKey, AssetFailure] = {}
    for item in items:
        if isinstance(item, AssetFailure):
            _record_asset_failure(rt, step, item, seen=done | set(failures))
            failures[item.asset_key] = item
            continue
        if isinstance(item, AssetCheckResult):
            key = item.asset_key or step.asset_keys[0]
            name = item.check_name or _default_check_name(assets_def)
            failed = _emit_check(rt, step, key, name, item, blocking=name in blocking_checks)
            if failed:
                blocked.append((key, name))
            continue
        key, value, metadata, store, data_version, check_results = item
        if key not in assets_def.specs_by_key:
            raise AssayError(f"'{assets_def.name}' returned a value for unknown asset '{key}'")
        if key in done or key in failures:
            raise AssayError(f"'{assets_def.name}' returned asset '{key}' twice")
        if key not in step.asset_keys:
            raise AssayError(f"'{assets_def.name}' returned asset '{key}', which was not selected")
        done.add(key)
        spec = assets_def.specs_by_key[key]
        if store and len(partitions) > 1:
            _require_value_per_partition(assets_def.name, key, value, partitions)
        for partition in partitions:
            out_ctx = OutputContext(key, rt.run_id, step.key, partition)
            if store:
                io_manager.handle_output(
                    out_ctx, value[partition] if len(partitions) > 1 else value
                )
            merged = {**out_ctx.metadata, **metadata}
            if context is not None and key in context.output_metadata:
                merged.update(context.output_metadata[key])
            payload: dict[str, Any] = {"metadata": normalize_metadata(merged)}
            if spec.code_version is not None:
                payload["code_version"] = spec.code_version
            if data_version is not None:
                payload["data_version"] = data_version
            rt.emit(
                Event(EventType.ASSET_MATERIALIZATION, rt.run_id, key, step.key, payload, partition)
            )
        if store and rt.capture_outputs:
            outcome.outputs[key] = value
        for check_result in check_results:
            name = check_result.check_name or _default_check_name(assets_def)
            ck = check_result.asset_key or key
            if _emit_check(rt, step, ck, name, check_result, blocking=name in blocking_checks):
                blocked.append((ck, name))
    missing = [k for k in step.asset_keys if k not in done and k not in failures]
    if missing:
        raise AssayError(
            f"'{assets_def.name}' did not produce {', '.join(str(k) for k in missing)}: "
            "return or yield a value for every asset it declares"
        )
    outcome.blocked = tuple(blocked)
    if failures:
        outcome.failed_keys = tuple(failures)
        if any(not f.skipped for f in failures.values()):
            outcome.status = FAILURE
    return outcome


def _record_asset_failure(
    rt: StepRuntime, step: Step, failure: AssetFailure, *, seen: set[AssetKey]
) -> None:
    """One asset of a subsettable step failed or was skipped: say so for that asset alone."""
    assets_def = step.assets_def
    assert assets_def is not None
    key = failure.asset_key
    if not assets_def.can_subset:
        raise AssayError(
            f"'{assets_def.name}' yielded AssetFailure for '{key}'; only a multi_asset with "
            "can_subset=True may fail some of its assets (raise to fail the step)"
        )
    if key not in step.asset_keys or key in seen:
        raise AssayError(f"'{assets_def.name}' reported '{key}', which it was not running")
    payload: dict[str, Any] = {
        "message": failure.message,
        "metadata": normalize_metadata(failure.metadata),
    }
    if failure.skipped:
        payload["reason"] = failure.message
        kind = EventType.STEP_SKIPPED
    else:
        payload["error"] = {"class": "AssetFailure", "message": failure.message, "stack": ""}
        kind = EventType.STEP_FAILED
    rt.emit(Event(kind, rt.run_id, key, step.key, payload, _event_partition(step)))


_NO_PARTITION: tuple[None] = (None,)


def _require_value_per_partition(
    name: str, key: AssetKey, value: Any, partitions: Sequence[str | None]
) -> None:
    """A step covering several partitions stores one value per partition, given as a dict."""
    if isinstance(value, Mapping) and set(value) == set(partitions):
        return
    got = f"a dict with keys {sorted(value)[:3]}..." if isinstance(value, Mapping) else "one value"
    raise AssayError(
        f"'{name}' ran for {len(partitions)} partitions of '{key}' ({partitions[0]} .. "
        f"{partitions[-1]}) and returned {got}: return {{partition_key: value}} for every "
        "partition in context.partition_keys, or a MaterializeResult when it stores data itself"
    )


def _default_check_name(assets_def: Any) -> str:
    if len(assets_def.check_specs) == 1:
        return assets_def.check_specs[0].name
    return "check"


def _as_items(result: Any, keys: tuple[AssetKey, ...], name: str) -> Iterator[Any]:
    """Normalise whatever the function returned into (key, value, metadata, store, ...) items.

    A generator is consumed lazily, so what it yields is recorded as it happens (a dbt
    build's models stream out one by one).
    """
    raw: Iterable[Any]
    if inspect.isgenerator(result):
        raw = result
    elif len(keys) > 1:
        if isinstance(result, tuple) and len(result) == len(keys):
            raw = [
                Output(v, asset_key=k) if not _is_wrapped(v) else _keyed(v, k)
                for k, v in zip(keys, result, strict=True)
            ]
        elif isinstance(result, list | tuple) and all(_is_wrapped(v) for v in result):
            raw = list(result)
        else:
            raise AssayError(
                f"multi_asset '{name}' must return a tuple of {len(keys)} values "
                "(in specs order) or yield Output/MaterializeResult per asset"
            )
    else:
        raw = [result]
    for value in raw:
        if isinstance(value, AssetCheckResult | AssetFailure):
            yield value
        elif isinstance(value, Output):
            key = value.asset_key or _only(keys, name)
            yield (key, value.value, value.metadata, True, value.data_version, ())
        elif isinstance(value, MaterializeResult):
            key = value.asset_key or _only(keys, name)
            yield (key, None, value.metadata, False, value.data_version, value.check_results)
        else:
            yield (_only(keys, name), value, {}, True, None, ())


def _is_wrapped(value: Any) -> bool:
    return isinstance(value, Output | MaterializeResult | AssetCheckResult)


def _keyed(value: Any, key: AssetKey) -> Any:
    if isinstance(value, Output) and value.asset_key is None:
        return Output(value.value, value.metadata, asset_key=key, data_version=value.data_version)
    if isinstance(value, MaterializeResult) and value.asset_key is None:
        return MaterializeResult(
            asset_key=key,
            metadata=value.metadata,
            check_results=value.check_results,
            data_version=value.data_version,
        )
    return value


def _only(keys: tuple[AssetKey, ...], name: str) -> AssetKey:
    if len(keys) != 1:
        raise AssayError(f"'{name}' produces several assets: say which with asset_key=")
    return keys[0]


def _emit_check(
    rt: StepRuntime,
    step: Step,
    key: AssetKey,
    name: str,
    result: AssetCheckResult,
    *,
    blocking: bool,
) -> bool:
    """Record a check evaluation; True when it should block downstream assets."""
    payload = {
        "check_name": name,
        "passed": result.passed,
        "severity": result.severity.value,
        "blocking": blocking,
        "metadata": normalize_metadata(result.metadata),
    }
    if result.description:
        payload["description"] = result.description
    rt.emit(
        Event(
            EventType.ASSET_CHECK_EVALUATION,
            rt.run_id,
            key,
            step.key,
            payload,
            _event_partition(step),
        )
    )
    return blocking and not result.passed and result.severity == AssetCheckSeverity.ERROR


def _run_check(step: Step, rt: StepRuntime) -> StepOutcome:
    check = step.check_def
    assert check is not None
    kwargs, _ = _call_args(check, step, rt, check_name=check.name)
    result = check.fn(**kwargs)
    if isinstance(result, bool):
        result = AssetCheckResult(passed=result)
    if not isinstance(result, AssetCheckResult):
        raise AssayError(
            f"check '{check.name}' returned {type(result).__name__}; return an AssetCheckResult"
        )
    failed = _emit_check(
        rt, step, check.asset_key, check.spec.name, result, blocking=check.blocking
    )
    return StepOutcome(SUCCESS, blocked=((check.asset_key, check.spec.name),) if failed else ())


def _run_observation(step: Step, rt: StepRuntime) -> StepOutcome:
    assets_def = step.assets_def
    assert assets_def is not None
    kwargs, _ = _call_args(assets_def, step, rt)
    result = assets_def.fn(**kwargs)  # type: ignore[misc]
    key = step.asset_keys[0]
    if isinstance(result, str):
        result = AssetObservation(data_version=result)
    elif result is None:
        result = AssetObservation()
    if not isinstance(result, AssetObservation):
        raise AssayError(
            f"observable source asset '{key}' returned {type(result).__name__}; "
            "return an AssetObservation or a data-version string"
        )
    payload: dict[str, Any] = {"metadata": normalize_metadata(result.metadata)}
    if result.data_version is not None:
        payload["data_version"] = result.data_version
    rt.emit(
        Event(EventType.ASSET_OBSERVATION, rt.run_id, result.asset_key or key, step.key, payload)
    )
    return StepOutcome(SUCCESS)
