"""Automation conditions as JSON trees, and back.

A code location's snapshot carries each asset's condition as a tree, so the control
plane's daemon can evaluate it without importing the user's code. A condition rebuilt
from its tree describes itself identically, so its cursor memory and fingerprint carry
over between ``assay dev`` and the hosted daemon.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from assay.automation import operands as ops
from assay.automation.condition import (
    AndCondition,
    AutomationCondition,
    NewlyTrueCondition,
    NotCondition,
    OrCondition,
    SinceCondition,
)
from assay.automation.errors import InvalidAutomationCondition

__all__ = ["condition_from_tree", "condition_to_tree", "is_serializable"]

# Leaf operands without parameters, by their name in the tree.
_LEAVES: dict[str, type[AutomationCondition]] = {
    "missing": ops.Missing,
    "in_progress": ops.InProgress,
    "execution_failed": ops.ExecutionFailed,
    "newly_updated": ops.NewlyUpdated,
    "newly_requested": ops.NewlyRequested,
    "will_be_requested": ops.WillBeRequested,
    "any_deps_updated": ops.AnyDepsUpdated,
    "any_deps_missing": ops.AnyDepsMissing,
    "any_deps_in_progress": ops.AnyDepsInProgress,
    "code_version_changed": ops.CodeVersionChanged,
}
_LEAF_NAMES = {cls: name for name, cls in _LEAVES.items()}
_CRONS: dict[str, type[ops._CronOperand]] = {
    "cron_tick_passed": ops.CronTickPassed,
    "all_deps_updated_since_cron": ops.AllDepsUpdatedSinceCron,
}
_CRON_NAMES = {cls: name for name, cls in _CRONS.items()}


def condition_to_tree(condition: AutomationCondition) -> dict[str, Any]:
    """The condition as nested dicts (``{"op": ..., ...}``); raises for a custom subclass."""
    tree = _node(condition)
    if condition._label:
        tree["label"] = condition._label
    return tree


def _node(condition: AutomationCondition) -> dict[str, Any]:
    kind = type(condition)
    if kind in _LEAF_NAMES:
        return {"op": _LEAF_NAMES[kind]}
    if kind in _CRON_NAMES:
        assert isinstance(condition, ops._CronOperand)
        return {
            "op": _CRON_NAMES[type(condition)],
            "cron_schedule": condition.cron_schedule,
            "cron_timezone": condition.cron_timezone,
        }
    if isinstance(condition, ops.InLatestTimeWindow):
        lookback = condition.lookback
        return {
            "op": "in_latest_time_window",
            "lookback_seconds": None if lookback is None else lookback.total_seconds(),
        }
    if isinstance(condition, AndCondition | OrCondition):
        op = "and" if isinstance(condition, AndCondition) else "or"
        return {"op": op, "operands": [condition_to_tree(c) for c in condition.operands]}
    if isinstance(condition, NotCondition):
        return {"op": "not", "operand": condition_to_tree(condition.operand)}
    if isinstance(condition, NewlyTrueCondition):
        return {"op": "newly_true", "operand": condition_to_tree(condition.operand)}
    if isinstance(condition, SinceCondition):
        return {
            "op": "since",
            "trigger": condition_to_tree(condition.trigger),
            "reset": condition_to_tree(condition.reset),
        }
    raise InvalidAutomationCondition(
        f"{kind.__name__} is a custom condition: the control plane can only evaluate "
        "conditions composed of Assay's operands"
    )


def is_serializable(condition: AutomationCondition) -> bool:
    """Whether the condition is built only from Assay's operands and operators."""
    try:
        _node(condition)
    except InvalidAutomationCondition:
        return False
    return True


def condition_from_tree(tree: Mapping[str, Any]) -> AutomationCondition:
    """Rebuild a condition from :func:`condition_to_tree`'s output."""
    if not isinstance(tree, Mapping) or not isinstance(tree.get("op"), str):
        raise InvalidAutomationCondition(f"not an automation condition tree: {tree!r}")
    condition = _build(tree)
    label = tree.get("label")
    return condition.with_label(label) if isinstance(label, str) and label else condition


def _build(tree: Mapping[str, Any]) -> AutomationCondition:
    op = tree["op"]
    if op in _LEAVES:
        return _LEAVES[op]()
    if op in _CRONS:
        return _CRONS[op](tree["cron_schedule"], tree.get("cron_timezone") or "UTC")
    if op == "in_latest_time_window":
        seconds = tree.get("lookback_seconds")
        return ops.InLatestTimeWindow(None if seconds is None else timedelta(seconds=seconds))
    if op in ("and", "or"):
        operands = [condition_from_tree(t) for t in tree.get("operands") or ()]
        if not operands:
            raise InvalidAutomationCondition(f"'{op}' needs at least one operand")
        return AndCondition(operands) if op == "and" else OrCondition(operands)
    if op == "not":
        return NotCondition(condition_from_tree(tree["operand"]))
    if op == "newly_true":
        return NewlyTrueCondition(condition_from_tree(tree["operand"]))
    if op == "since":
        return SinceCondition(
            condition_from_tree(tree["trigger"]), condition_from_tree(tree["reset"])
        )
    raise InvalidAutomationCondition(f"unknown automation condition operator {op!r}")
