"""Every backfill state change a person makes: launch, cancel, resume, retry the failed.

Each runs in one transaction under the backfill's row lock (the lock the daemon's pass
takes), authorizes ``launch_backfill`` on every code location the backfill touches, and
writes its audit row in the same transaction. The daemon (``loop.py``) does the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import transaction
from django.utils import timezone

from assay.backfill import BACKFILL_TAG, BackfillStatus
from control_plane.audit.services import record_for
from control_plane.backfills.audit_actions import (
    BACKFILL_CANCEL,
    BACKFILL_LAUNCH,
    BACKFILL_RESUME,
    BACKFILL_RETRY_FAILED,
)
from control_plane.backfills.errors import (
    BackfillStateConflict,
    InvalidBackfillRequest,
    UnreadableBackfill,
)
from control_plane.backfills.models import Backfill
from control_plane.backfills.models import BackfillStatus as Status
from control_plane.backfills.outcomes import latest_attempts
from control_plane.backfills.planning import BackfillRequest, plan_request
from control_plane.backfills.stored_state import StoredBackfill
from control_plane.core.context import TenantContext
from control_plane.runs import services as run_services
from control_plane.runs.errors import RunAlreadyFinished
from control_plane.runs.models import TERMINAL_STATUSES, Run
from control_plane.tenancy.errors import NotAllowed
from control_plane.tenancy.models import CodeLocation, Deployment
from control_plane.tenancy.permissions import authorize, is_allowed
from control_plane.tenancy.roles import Action


def launch_backfill(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    request: BackfillRequest,
    tags: dict[str, Any] | None = None,
) -> Backfill:
    """Plan the backfill against the current definitions and store it; the daemon launches
    its runs. Nothing is stored when any part of the request is invalid."""
    _may_launch_somewhere(ctx, deployment, request.location_name)
    clean_tags = _validate_tags(tags or {})
    now = timezone.now()
    stored = plan_request(deployment=deployment, request=request, now=now)
    _authorize(ctx, deployment, stored)
    state = stored.state
    with transaction.atomic():
        backfill = Backfill.objects.create(
            organization=ctx.organization,
            deployment=deployment,
            location_name=request.location_name,
            selection=request.selection,
            partition_range_start=request.partition_range[0] if request.partition_range else "",
            partition_range_end=request.partition_range[1] if request.partition_range else "",
            partition_keys=list(request.partition_keys)
            if request.partition_keys is not None
            else None,
            all_missing=request.all_missing,
            max_concurrent_runs=request.max_concurrent_runs,
            tags=clean_tags,
            launched_by=ctx.principal.label,
            plan=stored.plan_json(),
            progress=stored.progress_json(),
            run_counts=state.counts(),
            partition_counts=state.partition_counts(),
            created_at=now,
            updated_at=now,
        )
        record_for(
            ctx,
            action=BACKFILL_LAUNCH,
            target=("backfill", backfill.pk, _label(backfill)),
            after={
                "deployment": deployment.name,
                "location": request.location_name or None,
                "selection": request.selection,
                "partition_range": list(request.partition_range)
                if request.partition_range
                else None,
                "partition_keys": backfill.partition_keys,
                "all_missing": request.all_missing,
                "max_concurrent_runs": request.max_concurrent_runs,
                "tags": clean_tags,
                "runs": len(state.runs),
                "asset_partitions": state.plan.num_partitions,
            },
        )
    return backfill


def cancel_backfill(*, ctx: TenantContext, backfill: Backfill) -> Backfill:
    """Launch nothing more; ask the agents to stop the backfill's running runs. The backfill
    is ``canceling`` until they have stopped (the daemon then marks it ``canceled``)."""
    with transaction.atomic():
        backfill = _lock(backfill)
        try:
            stored = _stored(ctx, backfill)
        except UnreadableBackfill as unreadable:
            if not backfill.is_active:
                raise _cannot_cancel(backfill) from None
            # The daemon cannot advance it, nor finish canceling it: done here.
            return _cancel_unreadable(ctx, backfill, unreadable)
        if backfill.status != Status.REQUESTED:
            raise _cannot_cancel(backfill)
        reason = f"canceled by {ctx.principal.label}"
        canceled = stored.state.cancel(reason)
        running = [
            attempt.run_ids[-1]
            for index, attempt in stored.attempts.items()
            if stored.state.status(index) is BackfillStatus.IN_PROGRESS
        ]
        runs = latest_attempts(run_id for ids in running for run_id in ids).values()
        terminated = _terminate(ctx, runs, reason)
        status = Status.CANCELING if running else Status.CANCELED
        _save(backfill, stored, status=status)
        record_for(
            ctx,
            action=BACKFILL_CANCEL,
            target=("backfill", backfill.pk, _label(backfill)),
            before={"status": Status.REQUESTED},
            after={
                "status": status,
                "runs_not_launched": len(canceled),
                "runs_terminated": terminated,
            },
        )
    return backfill


def _cannot_cancel(backfill: Backfill) -> BackfillStateConflict:
    return BackfillStateConflict(
        f"the backfill is {backfill.status}: only a requested backfill can be canceled"
    )


def _terminate(ctx: TenantContext, runs: Iterable[Run], reason: str) -> int:
    """Terminate the runs not finished yet; returns how many."""
    terminated = 0
    for run in runs:
        if run.status in TERMINAL_STATUSES:
            continue
        try:
            run_services.terminate_run(ctx=ctx, run=run, reason=reason)
        except RunAlreadyFinished:
            continue  # it finished meanwhile; the daemon records how
        terminated += 1
    return terminated


def _cancel_unreadable(
    ctx: TenantContext, backfill: Backfill, unreadable: UnreadableBackfill
) -> Backfill:
    """Cancel a backfill whose stored plan cannot be read, so the daemon cannot advance it:
    its unfinished runs (``Run.backfill``) are terminated and it is canceled at once."""
    before, reason = backfill.status, f"canceled by {ctx.principal.label}"
    unfinished = Run.objects.filter(backfill=backfill).exclude(status__in=TERMINAL_STATUSES)
    terminated = _terminate(ctx, unfinished.select_related("code_location"), reason)
    now = timezone.now()
    backfill.status, backfill.finished_at, backfill.updated_at = Status.CANCELED, now, now
    backfill.unfinished_runs = None
    backfill.save(update_fields=["status", "finished_at", "updated_at", "unfinished_runs"])
    record_for(
        ctx,
        action=BACKFILL_CANCEL,
        target=("backfill", backfill.pk, _label(backfill)),
        before={"status": before},
        after={
            "status": Status.CANCELED,
            "runs_terminated": terminated,
            "unreadable_plan": unreadable.message,
        },
    )
    return backfill


def resume_backfill(*, ctx: TenantContext, backfill: Backfill) -> Backfill:
    """Request again the runs a cancel stopped (what succeeded does not run again)."""
    with transaction.atomic():
        backfill = _lock(backfill)
        stored = _stored(ctx, backfill)
        _refuse_while_canceling(backfill)
        again = stored.state.resume()
        if not again:
            raise BackfillStateConflict("nothing of this backfill was canceled: nothing to resume")
        return _request_again(ctx, backfill, stored, again, action=BACKFILL_RESUME)


def retry_failed_backfill(*, ctx: TenantContext, backfill: Backfill) -> Backfill:
    """Request the failed runs again, with the runs their failure skipped; nothing else."""
    with transaction.atomic():
        backfill = _lock(backfill)
        stored = _stored(ctx, backfill)
        _refuse_while_canceling(backfill)
        again = stored.state.retry_failed()
        if not again:
            raise BackfillStateConflict("no run of this backfill failed: nothing to retry")
        return _request_again(ctx, backfill, stored, again, action=BACKFILL_RETRY_FAILED)


def _refuse_while_canceling(backfill: Backfill) -> None:
    if backfill.status == Status.CANCELING:
        raise BackfillStateConflict(
            "the backfill is still canceling (its runs are stopping): try again when it is canceled"
        )


def _request_again(
    ctx: TenantContext, backfill: Backfill, stored: StoredBackfill, again: list[int], *, action: str
) -> Backfill:
    before = {"status": backfill.status, "run_counts": backfill.run_counts}
    stored.forget_attempts(again)
    _save(backfill, stored, status=Status.REQUESTED)
    record_for(
        ctx,
        action=action,
        target=("backfill", backfill.pk, _label(backfill)),
        before=before,
        after={"status": Status.REQUESTED, "runs_requested_again": len(again)},
    )
    return backfill


def _lock(backfill: Backfill) -> Backfill:
    """The backfill, locked as the daemon's pass locks it."""
    return Backfill.objects.select_for_update().select_related("deployment").get(pk=backfill.pk)


def _stored(ctx: TenantContext, backfill: Backfill) -> StoredBackfill:
    """Its state, or ``UnreadableBackfill`` (a 409 saying why) when it cannot be read;
    either only once the principal may change the backfill."""
    try:
        stored = StoredBackfill.from_json(backfill.plan, backfill.progress)
    except UnreadableBackfill:
        # Its code locations are named in the plan it cannot read: the deployment decides.
        authorize(ctx.principal, Action.LAUNCH_BACKFILL, backfill.deployment)
        raise
    _authorize(ctx, backfill.deployment, stored)
    return stored


def _save(backfill: Backfill, stored: StoredBackfill, *, status: str) -> None:
    now = timezone.now()
    backfill.status = status
    backfill.finished_at = now if status == Status.CANCELED else None
    backfill.progress = stored.progress_json()
    backfill.run_counts = stored.state.counts()
    backfill.partition_counts = stored.state.partition_counts()
    backfill.unfinished_runs = None  # changed by a person: the next pass looks at all of it
    backfill.updated_at = now
    backfill.save(
        update_fields=[
            "status",
            "finished_at",
            "progress",
            "run_counts",
            "partition_counts",
            "unfinished_runs",
            "updated_at",
        ]
    )


def _may_launch_somewhere(ctx: TenantContext, deployment: Deployment, location_name: str) -> None:
    """Refuse before any planning a principal who may launch backfills nowhere here."""
    principal = ctx.principal
    if location_name:
        location = CodeLocation.objects.filter(deployment=deployment, name=location_name).first()
        if location is not None:
            authorize(principal, Action.LAUNCH_BACKFILL, location)
            return
    if is_allowed(principal, Action.LAUNCH_BACKFILL, deployment):
        return
    locations = CodeLocation.objects.filter(deployment=deployment).select_related(
        "deployment", "organization"
    )
    if not any(is_allowed(principal, Action.LAUNCH_BACKFILL, loc) for loc in locations):
        raise NotAllowed(f"you may not launch backfills in deployment {deployment.name!r}")


def _authorize(ctx: TenantContext, deployment: Deployment, stored: StoredBackfill) -> None:
    """``launch_backfill`` on every code location the backfill runs in."""
    names = stored.locations()
    found = CodeLocation.objects.filter(deployment=deployment, name__in=names).select_related(
        "deployment", "organization"
    )
    for location in found:
        authorize(ctx.principal, Action.LAUNCH_BACKFILL, location)
    if len(found) < len(names):  # a location since removed: its deployment decides
        authorize(ctx.principal, Action.LAUNCH_BACKFILL, deployment)


def _validate_tags(tags: dict[str, Any]) -> dict[str, str]:
    """The run queue's tag rules (every run of the backfill carries these tags)."""
    if BACKFILL_TAG in tags:
        raise InvalidBackfillRequest(
            fields={"tags": [f"{BACKFILL_TAG} is set by the backfill itself (its id)."]}
        )
    return run_services.validate_tags(tags)  # the run queue's rules, in one place


def _label(backfill: Backfill) -> str:
    if backfill.partition_range_start:
        what = f"{backfill.partition_range_start}..{backfill.partition_range_end}"
    elif backfill.partition_keys is not None:
        what = f"{len(backfill.partition_keys)} partition(s)"
    else:
        what = "missing partitions"
    return f"{backfill.selection or '*'} [{what}]"[:200]
