"""Running dbt through its Python entry point (`dbtRunner`) and streaming node results.

dbt runs in a thread; its `NodeFinished` events arrive through a callback and a queue,
so each model's materialization (and each test's check) is recorded as dbt finishes it,
not when the whole build ends.
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from assay.definitions.asset_key import AssetKey
from assay.definitions.checks import AssetCheckResult, AssetCheckSeverity
from assay.definitions.results import AssetFailure, MaterializeResult
from assay.errors import AssayError

if TYPE_CHECKING:
    from assay.dbt.assets import DbtAssetsDefinition
    from assay.execution.context import AssetExecutionContext

_SUCCESS = frozenset({"success", "pass"})
_DONE = object()


class DbtCliError(AssayError):
    """dbt itself failed (bad project, profile or flags), not one of its models."""


def run_dbt(args: Sequence[str], callbacks: Sequence[Any] = ()) -> Any:
    """Invoke dbt once; raise `DbtCliError` when dbt could not run at all."""
    try:
        from dbt.cli.main import dbtRunner
    except ImportError:  # pragma: no cover - depends on the installation
        raise DbtCliError("dbt is not installed: pip install 'assay[dbt]'") from None
    result = dbtRunner(callbacks=list(callbacks)).invoke(list(args))
    if result.exception is not None:
        raise DbtCliError(f"dbt {args[0]} failed: {result.exception}")
    return result


def partition_vars(window: Any) -> dict[str, str]:
    """The vars a time-partitioned dbt run gets: its window as dates and as instants."""
    return {
        "min_date": window.start.date().isoformat(),
        "max_date": window.end.date().isoformat(),
        "min_time": window.start.isoformat(),
        "max_time": window.end.isoformat(),
    }


class DbtCli:
    """What a `@dbt_assets` function is given: `build` (or any command) for the selection."""

    def __init__(self, definition: DbtAssetsDefinition) -> None:
        self.definition = definition
        # How long dbt itself took (its thread, start to end), for the benchmark.
        self.invocation_seconds: float | None = None

    def build(
        self,
        context: AssetExecutionContext,
        *,
        command: str = "build",
        args: Sequence[str] = (),
        vars: Mapping[str, Any] | None = None,
    ) -> Iterator[MaterializeResult | AssetCheckResult | AssetFailure]:
        """Run `dbt <command>` for the step's selected models and yield their results.

        A model that dbt reports as errored yields `AssetFailure`; one dbt skipped (its
        upstream failed) yields a skipped `AssetFailure`; tests yield check results.
        """
        d = self.definition
        selected = set(context.asset_keys)
        ids = [uid for uid, node in d.dbt_nodes.items() if node.key in selected]
        argv = [command, "--quiet", *d.project_args()]
        if len(ids) < len(d.dbt_nodes):
            argv += ["--select", *(d.dbt_nodes[uid].selector for uid in ids)]
            argv += ["--indirect-selection", "cautious"]
        all_vars = dict(vars or {})
        if context.partition_keys and d.partitions_def is not None:
            all_vars = {**d.vars_for_partition(context.partition_time_window), **all_vars}
        if all_vars:
            argv += ["--vars", json.dumps(all_vars)]
        argv += list(args)
        events: queue.Queue[Any] = queue.Queue()
        failure: list[BaseException] = []

        def on_event(event: Any) -> None:
            if event.info.name == "NodeFinished":
                events.put(event.data)

        def invoke() -> None:
            started = time.perf_counter()
            try:
                run_dbt(argv, callbacks=[on_event])
                self.invocation_seconds = time.perf_counter() - started
            except BaseException as exc:  # re-raised in the step's thread below
                failure.append(exc)
            finally:
                events.put(_DONE)

        thread = threading.Thread(target=invoke, name="dbt", daemon=True)
        thread.start()
        reported: set[AssetKey] = set()
        while (data := events.get()) is not _DONE:
            result = self._result_of(data, selected)
            if result is not None:
                if not isinstance(result, AssetCheckResult):
                    reported.add(result.asset_key)  # type: ignore[arg-type]
                yield result
        thread.join()
        if failure:
            raise failure[0]
        for key in sorted(selected - reported, key=lambda k: k.path):
            yield AssetFailure(asset_key=key, message=f"dbt {command} did not run '{key}'")

    def _result_of(
        self, data: Any, selected: set[AssetKey]
    ) -> MaterializeResult | AssetCheckResult | AssetFailure | None:
        d = self.definition
        uid = data.node_info.unique_id
        result = data.run_result
        status = result.status
        metadata = _run_metadata(data)
        node = d.dbt_nodes.get(uid)
        if node is not None:
            if node.key not in selected:
                return None
            if status in _SUCCESS:
                return MaterializeResult(asset_key=node.key, metadata=metadata)
            return AssetFailure(
                asset_key=node.key,
                message=f"dbt {node.resource_type} '{uid}' {status}: {result.message}".strip(),
                metadata=metadata,
                skipped=status == "skipped",
            )
        check = d.dbt_tests.get(uid)
        if check is None or check[0] not in selected or status == "skipped":
            return None
        key, name, severity = check
        failures = int(result.num_failures or 0)
        metadata["dbt/failures"] = failures
        passed = status == "pass"
        return AssetCheckResult(
            passed=passed,
            severity=AssetCheckSeverity.WARN if status == "warn" else AssetCheckSeverity(severity),
            metadata=metadata,
            description=None if passed else (result.message or f"dbt test {status}"),
            asset_key=key,
            check_name=name,
        )


def _run_metadata(data: Any) -> dict[str, Any]:
    """dbt's own facts about a node's run: status, timing, rows affected, the adapter's note."""
    result = data.run_result
    metadata: dict[str, Any] = {
        "dbt/status": result.status,
        "dbt/execution_time_s": round(float(result.execution_time), 6),
    }
    response = dict(result.adapter_response) if result.adapter_response else {}
    if "rows_affected" in response:
        metadata["dbt/rows_affected"] = int(response["rows_affected"])
    if response.get("_message"):
        metadata["dbt/adapter_message"] = str(response["_message"])
    for timing in result.timing_info:
        start, end = timing.started_at, timing.completed_at
        if start.seconds and end.seconds:
            elapsed = end.ToDatetime() - start.ToDatetime()
            metadata[f"dbt/{timing.name}_s"] = round(elapsed.total_seconds(), 6)
    return metadata
