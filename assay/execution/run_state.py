"""Bookkeeping shared by executors: step outcomes and why a step must be skipped."""

from __future__ import annotations

from assay.definitions.asset_key import AssetKey
from assay.execution.plan import CHECK, ExecutionPlan, Step
from assay.execution.step import FAILURE, SKIPPED, SUCCESS, StepOutcome


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
