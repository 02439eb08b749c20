"""Backfill reads for the REST API: lists, one backfill, and its progress per partition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import QuerySet

from assay.backfill import BackfillStatus
from assay.definitions.asset_key import AssetKey
from control_plane.backfills.errors import BackfillNotFound
from control_plane.backfills.models import Backfill
from control_plane.backfills.stored_state import StoredBackfill
from control_plane.tenancy.models import Deployment

PROBLEM_STATUSES = (BackfillStatus.FAILED, BackfillStatus.SKIPPED, BackfillStatus.CANCELED)


def backfills_of(*, deployment: Deployment, status: str | None = None) -> QuerySet[Backfill]:
    queryset = Backfill.objects.filter(deployment=deployment).select_related("deployment")
    # The list never shows the plan or progress: they can be large and counts are stored.
    queryset = queryset.defer("plan", "progress")
    return queryset.filter(status=status) if status else queryset


def get_backfill(*, deployment: Deployment, backfill_id: str) -> Backfill:
    try:
        key = uuid.UUID(str(backfill_id))
    except ValueError:
        raise BackfillNotFound("backfill not found") from None
    backfill = (
        Backfill.objects.select_related("deployment").filter(pk=key, deployment=deployment).first()
    )
    if backfill is None:
        raise BackfillNotFound("backfill not found")
    return backfill


def stored_state(backfill: Backfill) -> StoredBackfill:
    return StoredBackfill.from_json(backfill.plan, backfill.progress)


@dataclass(frozen=True)
class PlannedRunView:
    """One planned run as the API shows it."""

    index: int
    description: str  # "raw, cleaned [2024-01-15]"
    status: str
    reason: str | None
    attempts: int
    run_ids: list[str]
    asset_statuses: dict[str, str]  # only assets whose outcome differs from the run's


def problems(stored: StoredBackfill, *, limit: int) -> tuple[list[PlannedRunView], int]:
    """The first ``limit`` planned runs that failed, were skipped or canceled, and how many
    there are in all."""
    state = stored.state
    found: list[PlannedRunView] = []
    total = 0
    for index, progress in enumerate(state.progress):
        if progress.status not in PROBLEM_STATUSES:
            continue
        total += 1
        if len(found) < limit:
            found.append(_view(stored, index))
    return found, total


def _view(stored: StoredBackfill, index: int) -> PlannedRunView:
    progress = stored.state.progress[index]
    attempt = stored.attempts.get(index)
    return PlannedRunView(
        index=index,
        description=stored.state.runs[index].describe(),
        status=progress.status.value,
        reason=progress.reason,
        attempts=progress.attempts,
        run_ids=attempt.all_run_ids if attempt else [],
        asset_statuses={
            k.to_user_string(): v.value
            for k, v in progress.asset_statuses.items()
            if v is not progress.status
        },
    )


@dataclass(frozen=True)
class PartitionView:
    asset_key: str
    partition: str | None
    status: str
    reason: str | None
    run_ids: list[str]


def partitions(
    stored: StoredBackfill, *, status: str | None = None, asset_key: AssetKey | None = None
) -> Iterator[PartitionView]:
    """Every asset partition of the backfill in plan order, optionally only one status or
    one asset; failed and skipped ones say why."""
    for index, key, partition, partition_status in stored.partitions():
        if status and partition_status.value != status:
            continue
        if asset_key is not None and key != asset_key:
            continue
        attempt = stored.attempts.get(index)
        yield PartitionView(
            asset_key=key.to_user_string(),
            partition=partition,
            status=partition_status.value,
            reason=stored.reason_for(index, key),
            run_ids=attempt.all_run_ids if attempt else [],
        )
