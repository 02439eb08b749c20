"""`AutomationCondition`: a boolean expression over the partitions of one asset.

A condition is evaluated per asset over a *candidate* subset of its partitions and
returns the subset where it is true, with one result node per sub-condition: that
tree is the explanation a person (or the UI) reads. ``&`` narrows the candidates of
its right-hand side to what the left-hand side kept, so the usual guard
``in_latest_time_window() & ...`` makes the rest of the expression look at one
partition instead of 730. Stateful nodes (``.since()``, ``.newly_true()``) keep
their memory in the cursor, under the node's position in the tree.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from assay.automation.subsets import AssetSubset, intersect, subtract, union

if TYPE_CHECKING:
    from assay.automation.context import AssetContext


@dataclass
class ConditionResult:
    """What one node of a condition decided for one asset in one tick.

    ``true_subset`` is where the node was true among ``candidate_subset``; a node never
    looked at (its candidates were empty) has ``evaluated=False``.
    """

    condition: AutomationCondition
    candidate_subset: AssetSubset
    true_subset: AssetSubset
    children: Sequence[ConditionResult] = ()
    evaluated: bool = True

    @property
    def num_true(self) -> int:
        return len(self.true_subset)

    @property
    def num_candidates(self) -> int:
        return len(self.candidate_subset)

    def to_dict(self, *, max_keys: int = 10) -> dict[str, Any]:
        """A JSON tree: label, counts, a few true partition keys, children."""
        data: dict[str, Any] = {
            "condition": self.condition.label,
            "true": self.num_true,
            "candidates": self.num_candidates,
            "evaluated": self.evaluated,
        }
        if self.true_subset.partitions_def is not None and self.num_true:
            data["partitions"] = _sample_keys(self.true_subset, max_keys)
        if self.children:
            data["children"] = [c.to_dict(max_keys=max_keys) for c in self.children]
        return data

    def render(self, indent: str = "") -> list[str]:
        """Readable lines: ``[x] label (3 of 730)``, children indented."""
        mark = "x" if self.num_true else ("-" if not self.evaluated else " ")
        counts = f"{self.num_true} of {self.num_candidates}" if self.evaluated else "not needed"
        lines = [f"{indent}[{mark}] {self.condition.label} ({counts})"]
        for child in self.children:
            lines.extend(child.render(indent + "    "))
        return lines


def _sample_keys(subset: AssetSubset, limit: int) -> list[str]:
    keys: list[str] = []
    for key in subset:
        if len(keys) == limit:
            keys.append("...")
            break
        keys.append(str(key))
    return keys


class AutomationCondition:
    """Base of every condition; combine with ``&``, ``|``, ``~``, ``.since()``, ``.newly_true()``.

    Subclasses implement :meth:`evaluate_candidates`. A *transient* node (one that is
    true only because something happened since the previous tick) and a stateful
    node tell the evaluator when an asset must be looked at again next tick.
    """

    #: true only in reaction to something new (so true => re-evaluate next tick)
    is_transient: bool = False
    #: keeps memory between ticks in the cursor
    is_stateful: bool = False

    def __init__(self, *, label: str | None = None) -> None:
        self._label = label
        self._description: str | None = None

    # -- describing ------------------------------------------------------------------
    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return ()

    @property
    def name(self) -> str:
        """The operand's own text, e.g. ``missing()``; composites build theirs from children."""
        return type(self).__name__

    @property
    def label(self) -> str:
        """What the explanation tree shows: the user's label, else the description."""
        return self._label or self.describe()

    def describe(self) -> str:
        """The full expression as text; also the condition's identity in the cursor."""
        if self._description is None:
            self._description = self._describe()
        return self._description

    def _describe(self) -> str:
        return self.name

    def with_label(self, label: str) -> AutomationCondition:
        """A copy of this condition shown as ``label`` in explanations (built-ins use this)."""
        labelled = copy.copy(self)
        labelled._label = label
        labelled._description = None
        return labelled

    def __repr__(self) -> str:
        return f"<AutomationCondition {self.describe()}>"

    def to_snapshot(self) -> dict[str, Any]:
        """What a code location's snapshot records: the expression, its label and, when
        built from Assay's operands, the tree a daemon rebuilds it from."""
        from assay.automation.serialize import condition_to_tree, is_serializable

        data: dict[str, Any] = {
            "type": "automation_condition",
            "label": self.label,
            "expression": self.describe(),
        }
        if is_serializable(self):
            data["tree"] = condition_to_tree(self)
        return data

    # -- time ----------------------------------------------------------------------
    def changes_between(self, previous: datetime, current: datetime) -> bool:
        """Whether the passage of time alone could change the result (e.g. a cron tick)."""
        return any(child.changes_between(previous, current) for child in self.children)

    # -- evaluating ------------------------------------------------------------------
    def evaluate(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        """Evaluate over ``candidates``; a node with no candidates is skipped, keeping state."""
        if not candidates:
            return ConditionResult(self, candidates, candidates, evaluated=False)
        result = self.evaluate_candidates(context, candidates, path)
        if self.is_transient and result.true_subset:
            context.mark_unstable()
        return result

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        raise NotImplementedError

    # -- operators -------------------------------------------------------------------
    def __and__(self, other: AutomationCondition) -> AutomationCondition:
        _require_condition(other, "&")
        left = self.operands if isinstance(self, AndCondition) and not self._label else (self,)
        return AndCondition((*left, other))

    def __or__(self, other: AutomationCondition) -> AutomationCondition:
        _require_condition(other, "|")
        left = self.operands if isinstance(self, OrCondition) and not self._label else (self,)
        return OrCondition((*left, other))

    def __invert__(self) -> AutomationCondition:
        return NotCondition(self)

    def since(self, reset: AutomationCondition) -> AutomationCondition:
        """True where this became true at some tick after ``reset`` was last true."""
        _require_condition(reset, ".since()")
        return SinceCondition(self, reset)

    def since_last_handled(self) -> AutomationCondition:
        """``self.since(newly_requested() | newly_updated())``: until a run handles it."""
        from assay.automation.operands import NewlyRequested, NewlyUpdated

        handled = (NewlyRequested() | NewlyUpdated()).with_label("handled")
        return self.since(handled).with_label(f"{_wrap(self)}.since_last_handled()")

    def newly_true(self) -> AutomationCondition:
        """True on the first tick where this is true (per partition), then false."""
        return NewlyTrueCondition(self)

    # -- operands and built-ins, as constructors on the class --------------------------
    @staticmethod
    def missing() -> AutomationCondition:
        from assay.automation.operands import Missing

        return Missing()

    @staticmethod
    def newly_missing() -> AutomationCondition:
        from assay.automation.operands import Missing

        return Missing().newly_true().with_label("newly_missing()")

    @staticmethod
    def in_progress() -> AutomationCondition:
        from assay.automation.operands import InProgress

        return InProgress()

    @staticmethod
    def execution_failed() -> AutomationCondition:
        from assay.automation.operands import ExecutionFailed

        return ExecutionFailed()

    @staticmethod
    def newly_updated() -> AutomationCondition:
        from assay.automation.operands import NewlyUpdated

        return NewlyUpdated()

    @staticmethod
    def newly_requested() -> AutomationCondition:
        from assay.automation.operands import NewlyRequested

        return NewlyRequested()

    @staticmethod
    def will_be_requested() -> AutomationCondition:
        from assay.automation.operands import WillBeRequested

        return WillBeRequested()

    @staticmethod
    def any_deps_updated() -> AutomationCondition:
        from assay.automation.operands import AnyDepsUpdated

        return AnyDepsUpdated()

    @staticmethod
    def any_deps_missing() -> AutomationCondition:
        from assay.automation.operands import AnyDepsMissing

        return AnyDepsMissing()

    @staticmethod
    def any_deps_in_progress() -> AutomationCondition:
        from assay.automation.operands import AnyDepsInProgress

        return AnyDepsInProgress()

    @staticmethod
    def all_deps_updated_since_cron(
        cron_schedule: str, cron_timezone: str = "UTC"
    ) -> AutomationCondition:
        from assay.automation.operands import AllDepsUpdatedSinceCron

        return AllDepsUpdatedSinceCron(cron_schedule, cron_timezone)

    @staticmethod
    def cron_tick_passed(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        from assay.automation.operands import CronTickPassed

        return CronTickPassed(cron_schedule, cron_timezone)

    @staticmethod
    def code_version_changed() -> AutomationCondition:
        from assay.automation.operands import CodeVersionChanged

        return CodeVersionChanged()

    @staticmethod
    def in_latest_time_window() -> AutomationCondition:
        from assay.automation.operands import InLatestTimeWindow

        return InLatestTimeWindow()

    @staticmethod
    def eager() -> AutomationCondition:
        from assay.automation.builtins import eager

        return eager()

    @staticmethod
    def on_cron(cron_schedule: str, cron_timezone: str = "UTC") -> AutomationCondition:
        from assay.automation.builtins import on_cron

        return on_cron(cron_schedule, cron_timezone)

    @staticmethod
    def on_missing() -> AutomationCondition:
        from assay.automation.builtins import on_missing

        return on_missing()


def _require_condition(other: object, operator: str) -> None:
    if not isinstance(other, AutomationCondition):
        from assay.automation.errors import InvalidAutomationCondition

        raise InvalidAutomationCondition(
            f"cannot combine an AutomationCondition with {type(other).__name__} using {operator}"
        )


# -- operators ----------------------------------------------------------------------------


class _Composite(AutomationCondition):
    def __init__(self, operands: Sequence[AutomationCondition]) -> None:
        super().__init__()
        self.operands = tuple(operands)

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return self.operands


class AndCondition(_Composite):
    """True where every operand is true; each operand only looks where the previous kept."""

    def _describe(self) -> str:
        return " & ".join(_wrap(c) for c in self.operands)

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        results = []
        remaining = candidates
        for i, operand in enumerate(self.operands):
            result = operand.evaluate(context, remaining, f"{path}.{i}")
            results.append(result)
            remaining = result.true_subset
        return ConditionResult(self, candidates, remaining, results)


class OrCondition(_Composite):
    """True where any operand is true; every operand sees every candidate (state stays exact)."""

    def _describe(self) -> str:
        return " | ".join(_wrap(c) for c in self.operands)

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        results = [
            op.evaluate(context, candidates, f"{path}.{i}") for i, op in enumerate(self.operands)
        ]
        true = results[0].true_subset
        for result in results[1:]:
            true = union(true, result.true_subset)
        return ConditionResult(self, candidates, true, results)


class NotCondition(AutomationCondition):
    """True where the operand is false."""

    def __init__(self, operand: AutomationCondition) -> None:
        super().__init__()
        self.operand = operand

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _describe(self) -> str:
        return f"~{_wrap(self.operand)}"

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        inner = self.operand.evaluate(context, candidates, f"{path}.0")
        return ConditionResult(self, candidates, subtract(candidates, inner.true_subset), (inner,))


class SinceCondition(AutomationCondition):
    """True where ``trigger`` was true at a tick after the last tick ``reset`` was true.

    Memory: the subset where it was true after the previous tick. When trigger and reset
    are true in the same tick, reset wins (the thing that would trigger is handled).
    """

    is_stateful = True

    def __init__(self, trigger: AutomationCondition, reset: AutomationCondition) -> None:
        super().__init__()
        self.trigger = trigger
        self.reset = reset

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.trigger, self.reset)

    def _describe(self) -> str:
        return f"({self.trigger.describe()}).since({self.reset.describe()})"

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        trigger = self.trigger.evaluate(context, candidates, f"{path}.0")
        reset = self.reset.evaluate(context, candidates, f"{path}.1")
        previous = context.node_state(path)
        kept = union(intersect(previous, candidates), trigger.true_subset)
        true = subtract(kept, reset.true_subset)
        context.set_node_state(path, union(subtract(previous, candidates), true), previous)
        return ConditionResult(self, candidates, true, (trigger, reset))


class NewlyTrueCondition(AutomationCondition):
    """True where the operand is true now and was not at the previous evaluation.

    Memory: where the operand was true (outside today's candidates it is kept as is).
    """

    is_stateful = True
    is_transient = True

    def __init__(self, operand: AutomationCondition) -> None:
        super().__init__()
        self.operand = operand

    @property
    def children(self) -> tuple[AutomationCondition, ...]:
        return (self.operand,)

    def _describe(self) -> str:
        return f"({self.operand.describe()}).newly_true()"

    def evaluate_candidates(
        self, context: AssetContext, candidates: AssetSubset, path: str
    ) -> ConditionResult:
        inner = self.operand.evaluate(context, candidates, f"{path}.0")
        previous = context.node_state(path)
        true = subtract(inner.true_subset, previous)
        memory = union(subtract(previous, candidates), inner.true_subset)
        context.set_node_state(path, memory, previous)
        return ConditionResult(self, candidates, true, (inner,))


def _wrap(condition: AutomationCondition) -> str:
    if isinstance(condition, AndCondition | OrCondition) and not condition._label:
        return f"({condition.describe()})"
    return condition.label if condition._label else condition.describe()
