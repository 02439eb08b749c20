"""The in-process executor: steps run one after another in the calling process."""

from __future__ import annotations

from assay.execution.events import Event, EventType
from assay.execution.plan import ExecutionPlan
from assay.execution.run_state import RunState
from assay.execution.step import SKIPPED, StepOutcome, StepRuntime, execute_step


class InProcessExecutor:
    """Default executor: no process overhead, values can stay in memory, easy to debug."""

    name = "in_process"

    def execute(self, plan: ExecutionPlan, rt: StepRuntime) -> RunState:
        state = RunState(plan)
        emit = rt.emit
        for step in plan.steps:
            reason = state.skip_reason(step)
            if reason is not None:
                emit(
                    Event(
                        EventType.STEP_SKIPPED,
                        rt.run_id,
                        step.primary_key,
                        step.key,
                        {"message": f"skipped '{step.key}': {reason}", "reason": reason},
                    )
                )
                state.record(step, StepOutcome(SKIPPED))
                continue
            state.record(step, execute_step(step, rt))
        return state
