"""Running assets: the plan, executors, the typed event stream and `materialize()`."""

from assay.execution.context import (
    AssetCheckExecutionContext,
    AssetExecutionContext,
    build_asset_context,
)
from assay.execution.events import Event, EventType
from assay.execution.materialize import InProcessExecutor, materialize
from assay.execution.multiprocess import MultiprocessExecutor
from assay.execution.result import AssetCheckEvaluation, ExecutionResult

__all__ = [
    "AssetCheckEvaluation",
    "AssetCheckExecutionContext",
    "AssetExecutionContext",
    "Event",
    "EventType",
    "ExecutionResult",
    "InProcessExecutor",
    "MultiprocessExecutor",
    "build_asset_context",
    "materialize",
]
