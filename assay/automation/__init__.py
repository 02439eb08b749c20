"""Declarative automation: decide what to run from conditions, a graph and a status view.

Pure: no database and no clock; the caller passes a read-only
:class:`StatusView` and the ``evaluation_time``. The same code runs in
``assay automation tick`` and in the control plane's daemon.
"""

from assay.automation.condition import AutomationCondition, ConditionResult
from assay.automation.cursor import AssetCursor, AutomationCursor
from assay.automation.errors import (
    AutomationError,
    InvalidAutomationCondition,
    InvalidAutomationCursor,
)
from assay.automation.evaluate import (
    AssetEvaluation,
    AutomationResult,
    RunRequest,
    evaluate_automation_conditions,
    group_run_requests,
)
from assay.automation.status import InMemoryStatusView, MaterializationRecord, StatusView
from assay.automation.subsets import AssetSubset, UnpartitionedSubset

__all__ = [
    "AssetCursor",
    "AssetEvaluation",
    "AssetSubset",
    "AutomationCondition",
    "AutomationCursor",
    "AutomationError",
    "AutomationResult",
    "ConditionResult",
    "InMemoryStatusView",
    "InvalidAutomationCondition",
    "InvalidAutomationCursor",
    "MaterializationRecord",
    "RunRequest",
    "StatusView",
    "UnpartitionedSubset",
    "evaluate_automation_conditions",
    "group_run_requests",
]
