"""The in-process executor: steps run one after another in the calling process."""

from __future__ import annotations

from assay.execution.plan import ExecutionPlan
from assay.execution.run_state import RunState
from assay.execution.step import SKIPPED, StepOutcome, StepRuntime, execute_step, skipped_event


class InProcessExecutor:
    """Default executor: no process overhead, values can stay in memory, easy to debug."""

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
