"""Every run state change: launch (queue), terminate, status changes reported by agents,
failure by monitoring, and retries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from assay.errors import InvalidSelection
from control_plane.audit.services import record
from control_plane.catalog import queries as catalog_queries
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.models import AssetDefinition
from control_plane.catalog.partition_status import PartitionKeys
from control_plane.core import hooks, wakeups
from control_plane.core.context import TenantContext
from control_plane.runs import alert_triggers
from control_plane.runs.audit_actions import RUN_LAUNCH, RUN_TERMINATE
from control_plane.runs.errors import InvalidRunRequest, RunAlreadyFinished
from control_plane.runs.models import IN_PROGRESS_STATUSES, TERMINAL_STATUSES, Run, RunStatus
from control_plane.tenancy.models import CodeLocation, Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

if TYPE_CHECKING:
    from control_plane.backfills.models import Backfill

MAX_TAGS = 50
RETRIES_TAG = "max_retries"


def validate_tags(tags: dict[str, Any]) -> dict[str, str]:
    """Run tags as the queue accepts them: at most 50, keys 1-100 and values up to 200
    characters, a valid ``max_retries``; raises ``InvalidRunRequest`` naming the problem."""
    if len(tags) > MAX_TAGS:
        raise InvalidRunRequest(fields={"tags": [f"At most {MAX_TAGS} tags."]})
    clean: dict[str, str] = {}
    for key, value in tags.items():
        if not isinstance(key, str) or not key or len(key) > 100:
            raise InvalidRunRequest(fields={"tags": [f"Tag key {key!r} must be 1-100 characters."]})
        if not isinstance(value, str) or len(value) > 200:
            raise InvalidRunRequest(fields={"tags": [f"Tag {key!r} needs a string value."]})
        clean[key] = value
    if RETRIES_TAG in clean and not (
        clean[RETRIES_TAG].isdigit() and int(clean[RETRIES_TAG]) <= 10
    ):
        raise InvalidRunRequest(fields={"tags": ["max_retries must be an integer from 0 to 10."]})
    return clean


def _validate_partitions(
    selected: list[AssetDefinition],
    *,
    deployment: Deployment,
    partition_key: str,
    partition_range: tuple[str, str] | None,
) -> None:
    """A partitioned selection needs partition(s) that exist (dynamic ones in the
    deployment's store); an unpartitioned one has none."""
    partitioned = [d for d in selected if d.is_partitioned]
    wanted = [k for k in ([partition_key] if partition_key else list(partition_range or ())) if k]
    if not partitioned:
        if wanted:
            raise InvalidRunRequest(
                "none of the selected assets is partitioned; leave out the partition",
                fields={"partition_key": ["No partitioned asset selected."]},
            )
        return
    if not wanted:
        names = ", ".join(d.asset_key for d in partitioned[:5])
        raise InvalidRunRequest(
            f"the selection includes partitioned assets ({names}): give a partition_key or a "
            "partition_range",
            fields={"partition_key": ["Required for partitioned assets."]},
        )
    keys = PartitionKeys(timezone.now(), DeploymentDynamicPartitions(deployment))
    for definition in partitioned:
        existing = keys.keys(definition.partitions)
        if existing is None:
            continue  # a kind of partitions this control plane cannot rebuild: the agent checks
        for key in wanted:
            if key not in existing:
                close = existing.close_matches(key)
                hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
                raise InvalidRunRequest(
                    f"partition {key!r} does not exist for {definition.asset_key}{hint}",
                    fields={"partition_key": [f"Unknown partition {key!r}."]},
                )


def launch_run(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    location: CodeLocation,
    selection: str = "",
    partition_key: str = "",
    partition_range: tuple[str, str] | None = None,
    tags: dict[str, Any] | None = None,
    priority: int = 0,
    backfill: Backfill | None = None,
) -> Run:
    """Queue a run of ``selection`` in ``location``, validated against its current snapshot
    (``backfill``: the backfill it is a run of)."""
    authorize(ctx.principal, Action.LAUNCH_RUN, location)
    if deployment.kind == Deployment.Kind.BRANCH:
        from control_plane.branches.services import refuse_if_read_only

        refuse_if_read_only(deployment)  # a closed branch keeps its catalog, runs nothing
    hooks.check_launch(ctx)
    if partition_key and partition_range:
        raise InvalidRunRequest("give a partition_key or a partition_range, not both")
    clean_tags = validate_tags(tags or {})
    snapshot = catalog_queries.loaded_snapshot(location=location)
    try:
        selected = catalog_queries.resolve_selection(snapshot=snapshot, selection=selection)
    except InvalidSelection as error:
        raise InvalidRunRequest(str(error), fields={"selection": [str(error)]}) from None
    if not selected:
        raise InvalidRunRequest(
            "the selection matches no executable asset", fields={"selection": ["Nothing to run."]}
        )
    external = [d.asset_key for d in selected if d.is_external and not d.is_observable]
    selected = [d for d in selected if not d.is_external or d.is_observable]
    if not selected:
        names = ", ".join(external[:5])
        raise InvalidRunRequest(
            f"the selection matches no executable asset: {names} "
            f"{'is' if len(external) == 1 else 'are'} external (Assay tracks it but does "
            "not compute it); select assets the location materializes or observes",
            fields={"selection": ["Nothing to run."]},
        )
    _validate_partitions(
        selected,
        deployment=deployment,
        partition_key=partition_key,
        partition_range=partition_range,
    )
    asset_keys = [d.asset_key for d in selected]
    # No savepoint when the caller's transaction is open (a daemon tick launching many
    # runs): a failure here must abort that whole transaction anyway.
    with transaction.atomic(savepoint=False):
        run = Run.objects.create(
            organization=ctx.organization,
            deployment=deployment,
            code_location=location,
            selection=selection,
            asset_keys=asset_keys,
            snapshot_id=snapshot.snapshot_id,
            partition_key=partition_key,
            partition_range_start=partition_range[0] if partition_range else "",
            partition_range_end=partition_range[1] if partition_range else "",
            tags=clean_tags,
            priority=priority,
            launched_by=ctx.principal.label,
            backfill=backfill,
            reason=hooks.queue_hold(ctx),  # it waits, and says why (billing's credit cap)
        )
        record(
            actor=ctx.principal,
            action=RUN_LAUNCH,
            target=("run", run.pk, f"{location.name}:{selection or '*'}"),
            organization=ctx.organization,
            after={
                "deployment": deployment.name,
                "location": location.name,
                "selection": selection,
                "partition_key": partition_key or None,
                "partition_range": list(partition_range) if partition_range else None,
                "tags": clean_tags,
                "priority": priority,
            },
            ip=ctx.ip,
            user_agent=ctx.user_agent,
        )
        wakeups.wake_dequeuer()
    return run


def terminate_run(*, ctx: TenantContext, run: Run, reason: str = "") -> Run:
    """Cancel a queued run at once; ask the agent to stop one in progress."""
    authorize(ctx.principal, Action.TERMINATE_RUN, run.code_location)
    with transaction.atomic():
        run = Run.objects.select_for_update().get(pk=run.pk)
        if run.is_terminal:
            raise RunAlreadyFinished(f"run {run.id} already finished ({run.status})")
        before = {"status": run.status}
        now = timezone.now()
        why = reason or f"terminated by {ctx.principal.label}"
        if run.status == RunStatus.QUEUED or (
            run.status == RunStatus.STARTING and run.dispatched_at is None
        ):
            run.status, run.ended_at = RunStatus.CANCELED, now
        else:
            run.status = RunStatus.CANCELING
        run.reason, run.terminate_requested_at, run.updated_at = why, now, now
        run.save()
        record(
            actor=ctx.principal,
            action=RUN_TERMINATE,
            target=("run", run.pk, str(run.pk)),
            organization=ctx.organization,
            before=before,
            after={"status": run.status, "reason": why},
            ip=ctx.ip,
            user_agent=ctx.user_agent,
        )
        if run.status == RunStatus.CANCELING:  # its agent's stream sends TerminateRun
            wakeups.wake_session(run.agent_session_id)
    return run


# Agent-reported statuses (``RunStatusChange``), in domain terms.
AGENT_STATUSES = {
    "STARTING": RunStatus.STARTING,
    "STARTED": RunStatus.STARTED,
    "SUCCEEDED": RunStatus.SUCCESS,
    "FAILED": RunStatus.FAILURE,
    "CANCELING": RunStatus.CANCELING,
    "CANCELED": RunStatus.CANCELED,
}


def apply_status(*, run: Run, status: RunStatus, reason: str, at: datetime) -> bool:
    """Move a (locked) run to ``status``; terminal statuses are final. True when it changed."""
    if run.is_terminal or run.status == status:
        return False
    if status in IN_PROGRESS_STATUSES and run.status == RunStatus.CANCELING:
        return False  # a late "started" must not undo a termination request
    now = timezone.now()
    run.status = status
    if reason:
        run.reason = reason[:4000]
    elif status == RunStatus.SUCCESS:
        run.reason = ""  # an earlier status's note ("process started ...") no longer applies
    if status == RunStatus.STARTED and run.started_at is None:
        run.started_at = at
    if status in TERMINAL_STATUSES:
        run.ended_at = at
        wakeups.wake_dequeuer()  # its slot is free (or its retry is queued)
    run.updated_at = now
    run.save()
    # Alerts are rows written in this transaction; a queued retry is not yet a failure.
    if status == RunStatus.FAILURE and retry_if_allowed(run=run) is None:
        alert_triggers.run_failed(run=run)
    elif status == RunStatus.SUCCESS:
        alert_triggers.run_succeeded(run=run)
    return True


def fail_run(*, run: Run, reason: str) -> bool:
    """Fail a (locked) run from the control plane's side (e.g. monitoring: agent lost)."""
    return apply_status(run=run, status=RunStatus.FAILURE, reason=reason, at=timezone.now())


def retry_if_allowed(*, run: Run) -> Run | None:
    """Queue a new attempt of a failed run when its ``max_retries`` tag allows one more."""
    raw = str(run.tags.get(RETRIES_TAG, "0"))
    allowed = int(raw) if raw.isdigit() else 0
    if run.retry_count >= allowed:
        return None
    retry = Run.objects.create(
        id=uuid.uuid4(),
        organization_id=run.organization_id,
        deployment_id=run.deployment_id,
        code_location_id=run.code_location_id,
        selection=run.selection,
        asset_keys=run.asset_keys,
        snapshot_id=run.snapshot_id,
        partition_key=run.partition_key,
        partition_range_start=run.partition_range_start,
        partition_range_end=run.partition_range_end,
        tags=run.tags,
        priority=run.priority,
        retry_count=run.retry_count + 1,
        parent_run=run,
        launched_by=run.launched_by,
        backfill_id=run.backfill_id,
    )
    return retry
