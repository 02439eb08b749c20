"""Turning what a schedule or sensor decided into runs, and collecting agents' answers.

All of a tick's effects happen in one transaction: dynamic partitions, the runs, the run
keys, the sensor's new cursor and the tick's outcome. A request that cannot launch (an
unknown asset, a partition that does not exist) fails the whole tick with its message and
changes nothing, so the next tick retries from the same cursor: nothing is lost and
nothing launches twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from control_plane.agents.convert import TickAnswer
from control_plane.automation import instigators, ticks
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
from control_plane.tenancy.models import CodeLocation, Deployment

log = logging.getLogger(__name__)

# How long past its timeout an agent's answer is still awaited (network, queueing).
ANSWER_GRACE_SECONDS = 10


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
    tick: DaemonTick,
    *,
    spec: InstigatorSpec | None,
    outcome: TickOutcome,
    location: CodeLocation | None = None,
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
                    ctx=ctx,
                    deployment=deployment,
                    spec=spec,
                    requests=outcome.run_requests,
                    location=location,
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
    deployments = deployments_with_snapshots()
    instigators.retain(deployment_ids=[d.pk for d in deployments])
    for deployment in deployments:
        with ticks.daemon_context(deployment, f"{loop}s"):
            handled += handle(deployment, now)
    return handled


def collect_answers(*, loop: str, now: datetime | None = None) -> int:
    """Complete every open tick of ``loop`` whose agent answered or ran out of time.

    Each deployment's specs and code locations are read once per pass. A tick that cannot
    be completed (its answer cannot be applied) is failed with the error, alone: the other
    ticks, of this deployment and of every other, are still completed. Replica-safe: each
    tick is completed under a row lock taken with SKIP LOCKED, and only while it is open.
    """
    now = now or timezone.now()
    ticks.fail_abandoned(loop=loop, now=now)
    due: dict[int, list[DaemonTick]] = {}
    open_ticks = (
        DaemonTick.objects.unscoped()  # every organization's ticks; each handled in its own
        .filter(loop=loop, status=DaemonTick.Status.STARTED, tick_request__isnull=False)
        .select_related("tick_request", "deployment__organization")
        .order_by("id")
    )
    for tick in open_ticks:
        request = tick.tick_request
        timed_out = now > request.created_at + timedelta(
            seconds=request.timeout_seconds + ANSWER_GRACE_SECONDS
        )
        if request.answered_at is not None or timed_out:
            due.setdefault(tick.deployment_id, []).append(tick)
    completed = 0
    for deployment_ticks in due.values():
        deployment = deployment_ticks[0].deployment
        with ticks.daemon_context(deployment, f"{loop}s"):
            specs = {s.key: s for s in instigator_specs(deployment=deployment, kind=loop)}
            wanted = {(loop, t.location_name, t.name) for t in deployment_ticks}
            ensure_states(deployment=deployment, specs=[specs[k] for k in wanted if k in specs])
            locations = {
                location.name: location
                for location in CodeLocation.objects.filter(deployment=deployment)
            }
            for tick in deployment_ticks:
                completed += _complete_answered(
                    tick,
                    spec=specs.get((loop, tick.location_name, tick.name)),
                    location=locations.get(tick.location_name),
                )
    return completed


def _complete_answered(
    tick: DaemonTick, *, spec: InstigatorSpec | None, location: CodeLocation | None
) -> int:
    """Apply the answer (or the timeout) of one tick; 1 when this replica completed it."""
    request = tick.tick_request
    try:
        if request.answered_at is not None:
            outcome = TickOutcome.from_answer(TickAnswer.from_dict(request.result))
        else:
            outcome = TickOutcome(
                error=f"no answer from the agent within {request.timeout_seconds} s "
                "(it may have disconnected); the next tick asks again"
            )
        with transaction.atomic():
            locked = ticks.lock_open(tick)
            if locked is None:
                return 0  # another replica has it
            complete_tick(locked, spec=spec, outcome=outcome, location=location)
            return 1
    except Exception as exc:  # one tick's bad answer must not stop every other tick
        log.exception("%s tick %s could not be completed", tick.loop, tick.pk)
        with transaction.atomic():
            locked = ticks.lock_open(tick)
            if locked is None:
                return 0
            ticks.finish_tick(
                locked,
                status=DaemonTick.Status.FAILURE,
                error=not_launched(f"{type(exc).__name__}: {exc}"),
            )
            return 1
