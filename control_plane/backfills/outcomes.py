"""What became of the runs a planned run launched, as its agent reported them.

A run's status comes from ``runs.Run`` (following the retries its ``max_retries`` tag
queued); inside a failed run, each asset's outcome comes from the event log, so assets
that succeeded before another step failed are known, like the SDK's local driver knows
them from the run's events.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from assay.backfill import BackfillStatus
from assay.definitions.asset_key import AssetKey
from assay.execution.events import EventType
from control_plane.catalog.models import AssetDefinition
from control_plane.runs.models import EventLogEntry, Run, RunStatus

_ASSET_EVENTS = (EventType.ASSET_MATERIALIZATION, EventType.STEP_FAILED, EventType.STEP_SKIPPED)
MAX_REASON_CHARS = 2000


def latest_attempts(run_ids: Iterable[str]) -> dict[str, Run]:
    """Each run id -> the run that now stands for it: itself, or the last retry queued for
    it. A failed run whose retry is queued is therefore not finished yet."""
    ids = [uuid.UUID(r) for r in run_ids]
    current = {str(run.id): run for run in Run.objects.filter(pk__in=ids)}
    origin_of = {run.id: key for key, run in current.items() if run.status == RunStatus.FAILURE}
    while origin_of:
        retries = Run.objects.filter(parent_run_id__in=list(origin_of)).order_by("created_at")
        failed_again: dict[uuid.UUID, str] = {}
        for retry in retries:
            origin = origin_of[retry.parent_run_id]
            current[origin] = retry
            if retry.status == RunStatus.FAILURE:
                failed_again[retry.id] = origin
        origin_of = failed_again
    return current


@dataclass
class Failure:
    """Why a planned run failed, and what became of each of its assets."""

    reason: str
    asset_statuses: dict[AssetKey, BackfillStatus] = field(default_factory=dict)
    asset_reasons: dict[str, str] = field(default_factory=dict)


def describe_failure(
    *,
    runs: list[Run],
    succeeded_before: Iterable[str],
    not_launched: Iterable[str],
) -> Failure:
    """A planned run whose latest runs (``runs``, all finished, not all successful) ended:
    assets of earlier levels succeeded, assets of later levels were never launched."""
    failure = Failure(reason="")
    for key in succeeded_before:
        failure.asset_statuses[AssetKey.from_user_string(key)] = BackfillStatus.SUCCEEDED
    check_steps = _check_names(runs)
    first_step_failure = ""
    entries = (
        EventLogEntry.objects.filter(run__in=runs, event_type__in=list(_ASSET_EVENTS))
        .order_by("id")
        .values_list("event_type", "asset_key", "payload")
    )
    for event_type, asset_key, event in entries:
        if not asset_key or event.get("step_key") in check_steps:
            continue  # a check's step carries its asset's key; its failure is not the asset's
        key = AssetKey.from_user_string(asset_key)
        details = event.get("payload") or {}
        if event_type == EventType.ASSET_MATERIALIZATION:
            failure.asset_statuses.setdefault(key, BackfillStatus.SUCCEEDED)
        elif event_type == EventType.STEP_FAILED:
            failure.asset_statuses[key] = BackfillStatus.FAILED
            message = str(details.get("message") or "the step failed")[:MAX_REASON_CHARS]
            failure.asset_reasons[asset_key] = message
            first_step_failure = first_step_failure or message
        else:
            failure.asset_statuses[key] = BackfillStatus.SKIPPED
            reason = details.get("reason") or details.get("message") or "skipped"
            failure.asset_reasons[asset_key] = str(reason)[:MAX_REASON_CHARS]
    unsuccessful = [r for r in runs if r.status != RunStatus.SUCCESS]
    failure.reason = first_step_failure or _run_reason(unsuccessful[0])
    for key in not_launched:
        failure.asset_statuses[AssetKey.from_user_string(key)] = BackfillStatus.SKIPPED
        failure.asset_reasons[key] = (
            "not launched: the run of the assets it reads in another code location failed"
        )
    return failure


def _run_reason(run: Run) -> str:
    verb = "was canceled" if run.status == RunStatus.CANCELED else "failed"
    detail = f": {run.reason}" if run.reason else ""
    return f"run {run.id} {verb}{detail}"[:MAX_REASON_CHARS]


def _check_names(runs: list[Run]) -> set[str]:
    """Step keys of asset checks (``asset:check``) in the snapshots these runs executed."""
    names: set[str] = set()
    checks = AssetDefinition.objects.filter(
        code_location_id__in={r.code_location_id for r in runs},
        snapshot__snapshot_id__in={r.snapshot_id for r in runs},
    ).values_list("asset_key", "checks")
    for asset_key, listed in checks:
        names.update(f"{asset_key}:{check['name']}" for check in listed or ())
    return names
