"""Running a backfill locally: launch each ready run in this process, record outcomes.

The edge around the pure plan and state: it executes runs (one at a time, in plan
order) with the chosen executor and reports them to callbacks, so the CLI can show
progress. An interrupt (Ctrl-C) marks the running run and everything not yet
started as canceled, then re-raises, leaving a state that `resume()` can continue;
the interrupted run has already ended itself (`run_failed`, reason "interrupted") in
the instance.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from assay.backfill.state import BackfillState, BackfillStatus
from assay.definitions.asset_key import AssetKey
from assay.errors import AssayError
from assay.execution.events import EventType
from assay.execution.materialize import Executor, execute_run, resolve_executor
from assay.execution.result import ExecutionResult
from assay.graph import AssetGraph
from assay.partitions import DynamicPartitionsStore

BACKFILL_TAG = "assay/backfill"


def execute_backfill(
    state: BackfillState,
    *,
    graph: AssetGraph,
    resources: Mapping[str, Any],
    executor: str | Executor = "in_process",
    current_time: datetime | None = None,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
    tags: Mapping[str, str] | None = None,
    on_run_started: Callable[[int], None] | None = None,
    on_run_finished: Callable[[int, ExecutionResult | None], None] | None = None,
    instance: Any = None,
) -> BackfillState:
    """Launch ready runs until none is left; a failed run skips only what depends on it.

    `instance` (e.g. a `LocalInstance`) records every run's events, so automation and a
    later `--missing` backfill see what this one materialized.
    """
    run_tags = {**(tags or {}), BACKFILL_TAG: state.backfill_id}
    chosen = resolve_executor(executor)
    while True:
        ready = state.next_runs()
        if not ready:
            return state
        for index in ready:
            run = state.runs[index]
            run_id = uuid.uuid4().hex
            state.mark_in_progress(index, run_id=run_id)
            if on_run_started is not None:
                on_run_started(index)
            result: ExecutionResult | None = None
            try:
                result = execute_run(
                    graph,
                    resources,
                    list(run.asset_keys),
                    executor=chosen,
                    run_id=run_id,
                    tags=run_tags,
                    partition_key=run.partition_key,
                    partition_key_range=run.partition_key_range,
                    current_time=current_time,
                    dynamic_partitions_store=dynamic_partitions_store,
                    instance=instance,
                )
            except KeyboardInterrupt:  # the run itself recorded its end (run_failed)
                state.mark_canceled(index, "interrupted while running")
                state.cancel("interrupted before it started")
                raise
            except AssayError as exc:
                state.mark_failed(index, str(exc))
            else:
                state.progress[index].run_id = result.run_id
                if result.success:
                    state.mark_succeeded(index)
                else:
                    state.mark_failed(
                        index,
                        _failure_reason(result),
                        asset_statuses=_asset_outcomes(result, graph),
                    )
            if on_run_finished is not None:
                on_run_finished(index, result)


def _failure_reason(result: ExecutionResult) -> str:
    """The first step failure (it names the step and the error), else the run's message."""
    failures = result.get_step_failure_events()
    if failures:
        return failures[0].message
    return result.failure_message or "the run failed"


def _asset_outcomes(result: ExecutionResult, graph: AssetGraph) -> dict[AssetKey, BackfillStatus]:
    """Per asset of a failed run: materialized ones succeeded, skipped ones were skipped.

    Only the assets' own steps count: a check step carries its asset's key, and a check
    skipped after its asset failed must not turn the failure into a skip.
    """
    outcomes: dict[AssetKey, BackfillStatus] = {}
    for event in result.events:
        key = event.asset_key
        if key is None or event.step_key in graph.checks:
            continue
        if event.type is EventType.ASSET_MATERIALIZATION:
            outcomes.setdefault(key, BackfillStatus.SUCCEEDED)
        elif event.type is EventType.STEP_FAILED:
            outcomes[key] = BackfillStatus.FAILED
        elif event.type is EventType.STEP_SKIPPED:
            outcomes[key] = BackfillStatus.SKIPPED
    return outcomes
