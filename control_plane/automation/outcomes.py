"""Turning what a schedule or sensor decided into runs, and collecting agents' answers.

All of a tick's effects happen in one transaction: dynamic partitions, the runs, the run
keys, the sensor's new cursor and the tick's outcome. A request that cannot launch (an
unknown asset, a partition that does not exist) fails the whole tick with its message and
changes nothing, so the next tick retries from the same cursor: nothing is lost and
nothing launches twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from control_plane.agents.convert import TickAnswer
from control_plane.automation import ticks
from control_plane.automation.instigators import (
    InstigatorSpec,
    deployments_with_snapshots,
    ensure_states,
    instigator_specs,
)
from control_plane.automation.launching import Launched, RequestedRun, launch_requested_runs
from control_plane.automation.models import DaemonTick, InstigatorKind, InstigatorState
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.core.errors import AssayError
from control_plane.tenancy.models import Deployment

# How long past its timeout an agent's answer is still awaited (network, queueing).
ANSWER_GRACE_SECONDS = 10
# A tick the daemon claimed but never finished (it was killed mid-tick) is failed after this.
ABANDONED_AFTER = timedelta(minutes=10)


@dataclass(frozen=True)
class DynamicChange:
    partitions_def_name: str
    add_keys: tuple[str, ...] = ()
    delete_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class TickOutcome:
    """What the tick decided, whoever evaluated it (the agent or the control plane)."""

    run_requests: tuple[RequestedRun, ...] = ()
    skip_reason: str = ""
    cursor: str | None = None
    dynamic_partitions: tuple[DynamicChange, ...] = field(default_factory=tuple)
    error: str = ""

    @classmethod
    def from_answer(cls, answer: TickAnswer) -> TickOutcome:
        return cls(
            run_requests=tuple(
                RequestedRun(r.run_key, r.asset_selection, r.partition_key, dict(r.tags))
                for r in answer.run_requests
            ),
            skip_reason=answer.skip_reason,
            cursor=answer.cursor,
            dynamic_partitions=tuple(
                DynamicChange(d.partitions_def_name, tuple(d.add_keys), tuple(d.delete_keys))
                for d in answer.dynamic_partitions
            ),
            error=answer.error,
        )


def complete_tick(
    tick: DaemonTick, *, spec: InstigatorSpec | None, outcome: TickOutcome
) -> DaemonTick:
    """Apply ``outcome`` and record the tick's result (inside the tick's organization)."""
    deployment = tick.deployment
    with ticks.daemon_context(deployment, f"{tick.loop} {tick.name}") as ctx:
        if outcome.error:
            return ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=outcome.error)
        if spec is None:
            return ticks.finish_tick(
                tick,
                status=DaemonTick.Status.FAILURE,
                error=f"{tick.loop} '{tick.name}' is no longer defined by "
                f"code location '{tick.location_name}'",
            )
        try:
            with transaction.atomic():
                store = DeploymentDynamicPartitions(deployment)
                for change in outcome.dynamic_partitions:
                    if change.add_keys:
                        store.add_dynamic_partitions(change.partitions_def_name, change.add_keys)
                    for key in change.delete_keys:
                        store.delete_dynamic_partition(change.partitions_def_name, key)
                launched = launch_requested_runs(
                    ctx=ctx, deployment=deployment, spec=spec, requests=outcome.run_requests
                )
                if spec.kind == InstigatorKind.SENSOR:
                    _remember_evaluation(tick, spec, outcome.cursor)
                return ticks.finish_tick(
                    tick,
                    status=DaemonTick.Status.SUCCESS
                    if launched.runs
                    else DaemonTick.Status.SKIPPED,
                    skip_reason="" if launched.runs else skip_reason(outcome, launched),
                    run_ids=[run.id for run in launched.runs],
                    details={
                        "run_keys": [r.run_key for r in outcome.run_requests if r.run_key][:100],
                        "duplicate_run_keys": launched.duplicate_run_keys[:100],
                        "cursor": outcome.cursor,
                        "dynamic_partitions_added": sum(
                            len(c.add_keys) for c in outcome.dynamic_partitions
                        ),
                    },
                )
        except (AssayError, ValueError) as exc:
            message = getattr(exc, "message", None) or str(exc)
            return ticks.finish_tick(
                tick,
                status=DaemonTick.Status.FAILURE,
                error=not_launched(message),
            )


def not_launched(message: str) -> str:
    """A tick's error when its requests were refused (nothing of the tick was kept)."""
    return f"the tick's run requests were not launched: {message}"


def skip_reason(outcome: TickOutcome, launched: Launched) -> str:
    """Why a tick that launched nothing was skipped, for a person."""
    if launched.duplicate_run_keys and not outcome.skip_reason:
        shown = ", ".join(launched.duplicate_run_keys[:3])
        return f"every run key had launched before ({shown})"
    return outcome.skip_reason or "no runs were requested"


def _remember_evaluation(tick: DaemonTick, spec: InstigatorSpec, cursor: str | None) -> None:
    changes = {"last_tick_time": tick.started_at, "updated_at": timezone.now()}
    if cursor is not None:
        changes["cursor"] = cursor
    InstigatorState.objects.filter(
        deployment=tick.deployment, kind=spec.kind, location_name=spec.location_name, name=spec.name
    ).update(**changes)


def instigator_pass(
    *, loop: str, now: datetime, handle: Callable[[Deployment, datetime], int]
) -> int:
    """One pass of the schedule or sensor loop: apply the answers that came in, then
    ``handle`` each deployment in its own organization's context."""
    handled = collect_answers(loop=loop, now=now)
    for deployment in deployments_with_snapshots():
        with ticks.daemon_context(deployment, f"{loop}s"):
            handled += handle(deployment, now)
    return handled


def collect_answers(*, loop: str, now: datetime | None = None) -> int:
    """Complete every open tick of ``loop`` whose agent answered or ran out of time.

    Replica-safe: each tick is completed under a row lock taken with SKIP LOCKED, and only
    while it is still open.
    """
    now = now or timezone.now()
    completed = 0
    open_ticks = (
        DaemonTick.objects.unscoped()  # every organization's ticks; each handled in its own
        .filter(loop=loop, status=DaemonTick.Status.STARTED)
        .select_related("tick_request", "deployment__organization")
    )
    for tick in open_ticks:
        request = tick.tick_request
        if request is None:
            if now - tick.started_at < ABANDONED_AFTER:
                continue
            outcome = TickOutcome(error="the daemon stopped before finishing this tick")
        elif request.answered_at is not None:
            outcome = TickOutcome.from_answer(TickAnswer.from_dict(request.result))
        elif now > request.created_at + timedelta(
            seconds=request.timeout_seconds + ANSWER_GRACE_SECONDS
        ):
            outcome = TickOutcome(
                error=f"no answer from the agent within {request.timeout_seconds} s "
                "(it may have disconnected); the next tick asks again"
            )
        else:
            continue
        with ticks.daemon_context(tick.deployment, f"{loop} {tick.name}"), transaction.atomic():
            locked = (
                DaemonTick.objects.select_for_update(skip_locked=True)
                .filter(pk=tick.pk, status=DaemonTick.Status.STARTED)
                .first()
            )
            if locked is None:
                continue  # another replica has it
            locked.deployment = tick.deployment
            spec = _spec_of(locked)
            complete_tick(locked, spec=spec, outcome=outcome)
            completed += 1
    return completed


def _spec_of(tick: DaemonTick) -> InstigatorSpec | None:
    for spec in instigator_specs(deployment=tick.deployment, kind=tick.loop):
        if spec.location_name == tick.location_name and spec.name == tick.name:
            ensure_states(deployment=tick.deployment, specs=[spec])
            return spec
    return None
