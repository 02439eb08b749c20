"""The daemon's backfill loop: read what the runs of each active backfill did, launch what
became ready, finish the backfill when nothing is left.

Each backfill is advanced under its row lock, taken with SKIP LOCKED, in one transaction:
several daemon replicas share the backfills between them, and the runs a pass queues are
committed together with the state that records them, so no planned run is launched twice
or lost. A pass that changed something is recorded as a ``backfill`` tick. A backfill none
of whose runs finished since the last pass costs one count of its unfinished runs: its
plan (megabytes for 50,000 planned runs) is read only when something may have changed.
"""

from __future__ import annotations

import logging
import traceback
import uuid
from dataclasses import dataclass, field
from functools import cached_property

from django.db import transaction
from django.utils import timezone

from assay.backfill import BACKFILL_TAG, BackfillStatus
from assay.definitions.asset_key import AssetKey
from control_plane.automation import ticks
from control_plane.automation.models import DaemonTick
from control_plane.backfills.models import ACTIVE_STATUSES, Backfill
from control_plane.backfills.models import BackfillStatus as Status
from control_plane.backfills.outcomes import describe_failure, latest_attempts
from control_plane.backfills.stored_state import Attempt, Stages, StoredBackfill
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import TenantContext
from control_plane.core.errors import AssayError
from control_plane.runs import services as runs
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from control_plane.tenancy.models import CodeLocation, Deployment

log = logging.getLogger(__name__)


def tick_backfills() -> int:
    """One pass over every active backfill of every organization; returns how many changed."""
    active = (
        Backfill.objects.unscoped()  # the daemon serves every organization
        .filter(status__in=list(ACTIVE_STATUSES))
        .order_by("created_at")
        .values_list("pk", flat=True)
    )
    return sum(_advance_one(pk) for pk in list(active))


def _advance_one(pk: uuid.UUID) -> bool:
    deployment = None
    try:
        with transaction.atomic():
            backfill = (
                Backfill.objects.unscoped()
                .select_for_update(skip_locked=True, of=("self",))
                .select_related("deployment__organization")
                .defer("plan", "progress")  # read only when the pass has work
                .filter(pk=pk, status__in=list(ACTIVE_STATUSES))
                .first()
            )
            if backfill is None:
                return False  # another replica has it, or it finished meanwhile
            deployment = backfill.deployment
            with ticks.daemon_context(deployment, f"backfill {backfill.pk}") as ctx:
                return advance_backfill(ctx, backfill)
    except Exception:
        error = traceback.format_exc()
        if deployment is None or _record_failed_pass(deployment, pk, error):
            log.exception("backfill %s: the pass failed; retrying on the next passes", pk)
        return False


@dataclass
class _Pass:
    """What one pass did, for its tick."""

    launched: list[str] = field(default_factory=list)
    finished: dict[str, int] = field(default_factory=dict)
    launch_errors: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.launched or self.finished or self.launch_errors)

    def count(self, status: BackfillStatus) -> None:
        self.finished[status.value] = self.finished.get(status.value, 0) + 1


def advance_backfill(ctx: TenantContext, backfill: Backfill) -> bool:
    """Advance one (locked) backfill; True when something changed."""
    # Counted before any run status is read: a run finishing after this count is seen by
    # the next pass (it finds fewer than recorded), never lost.
    unfinished = Run.objects.filter(backfill=backfill).exclude(status__in=TERMINAL_STATUSES)
    count = unfinished.count()
    if count == backfill.unfinished_runs and not backfill.waiting_reason:
        return False  # none finished: no outcome to record, no slot freed, nothing new ready
    stored = StoredBackfill.from_json(backfill.plan, backfill.progress)
    report = _Pass()
    canceling = backfill.status == Status.CANCELING
    ready_for_next_level = _collect_outcomes(stored, report, canceling=canceling)
    waiting = ""
    if not canceling:
        waiting = _launch_ready(_Launcher(ctx, backfill, stored, report), ready_for_next_level)
    before = (backfill.status, backfill.waiting_reason)
    backfill.waiting_reason = waiting
    _finish_if_done(backfill, stored)
    if not report.changed and (backfill.status, backfill.waiting_reason) == before:
        if count != backfill.unfinished_runs:
            # Only the count moved (one of a level's runs finished, a retry replaced a
            # failed run): record it, so the next pass skips again.
            Backfill.objects.filter(pk=backfill.pk).update(unfinished_runs=count)
        return False
    backfill.unfinished_runs = count + len(report.launched)
    _save(backfill, stored, report, previous_status=before[0])
    return True


def _launch_ready(launcher: _Launcher, next_levels: list[int]) -> str:
    """Queue the next level of planned runs that finished one, then new planned runs while
    slots are free; returns why it stopped early ('' when it did not)."""
    state = launcher.stored.state
    waiting = ""
    for index in next_levels:
        blocked = launcher.waiting_reason(index)
        if blocked:
            waiting = waiting or blocked
            continue
        launcher.launch(index)
    while ready := state.next_runs():
        for index in ready:
            blocked = launcher.waiting_reason(index)
            if blocked:
                return waiting or blocked
            state.mark_in_progress(index)
            launcher.stored.attempts[index] = Attempt()
            launcher.launch(index)
    return waiting


def _collect_outcomes(stored: StoredBackfill, report: _Pass, *, canceling: bool) -> list[int]:
    """Mark every planned run whose current runs all finished; returns those that succeeded
    a level and have another one to launch."""
    state = stored.state
    running = [i for i, p in enumerate(state.progress) if p.status is BackfillStatus.IN_PROGRESS]
    latest = latest_attempts(run_id for i in running for run_id in stored.attempts[i].run_ids[-1])
    next_level: list[int] = []
    for index in running:
        attempt = stored.attempts[index]
        level_runs = [latest.get(run_id) for run_id in attempt.run_ids[-1]]
        attempt.run_ids[-1] = [
            str(run.id) if run else run_id
            for run, run_id in zip(level_runs, attempt.run_ids[-1], strict=True)
        ]
        if any(run is not None and run.status not in TERMINAL_STATUSES for run in level_runs):
            continue
        finished = [run for run in level_runs if run is not None]
        levels = stored.stages_of(index)
        earlier = [k for level in levels[: attempt.level] for s in level for k in s.asset_keys]
        if len(finished) == len(level_runs) and all(
            run.status == RunStatus.SUCCESS for run in finished
        ):
            if attempt.level + 1 < len(levels) and not canceling:
                next_level.append(index)
            elif attempt.level + 1 < len(levels):
                _cancel_rest(stored, index, levels, attempt)
                report.count(BackfillStatus.CANCELED)
            else:
                state.mark_succeeded(index)
                report.count(BackfillStatus.SUCCEEDED)
            continue
        if canceling and any(run.status == RunStatus.CANCELED for run in finished):
            state.mark_canceled(index, "canceled with the backfill")
            report.count(BackfillStatus.CANCELED)
            continue
        later = [k for level in levels[attempt.level + 1 :] for s in level for k in s.asset_keys]
        if len(finished) < len(level_runs):
            missing = set(attempt.run_ids[-1]) - {str(r.id) for r in finished}
            state.mark_failed(index, f"run(s) {', '.join(sorted(missing))} no longer exist")
        else:
            failure = describe_failure(runs=finished, succeeded_before=earlier, not_launched=later)
            attempt.asset_reasons = failure.asset_reasons
            state.mark_failed(index, failure.reason, asset_statuses=failure.asset_statuses)
        report.count(BackfillStatus.FAILED)
    return next_level


def _cancel_rest(stored: StoredBackfill, index: int, levels: Stages, attempt: Attempt) -> None:
    """A canceled backfill launches no further level: what ran succeeded, the rest did not."""
    progress = stored.state.progress[index]
    done = [k for level in levels[: attempt.level + 1] for s in level for k in s.asset_keys]
    stored.state.mark_canceled(index, "canceled with the backfill before all its runs launched")
    progress.asset_statuses = {AssetKey.from_user_string(k): BackfillStatus.SUCCEEDED for k in done}


class _Launcher:
    """Queues the runs of a planned run's next level through the normal run queue."""

    def __init__(
        self, ctx: TenantContext, backfill: Backfill, stored: StoredBackfill, report: _Pass
    ) -> None:
        self.ctx, self.backfill, self.stored, self.report = ctx, backfill, stored, report
        self.tags = {**backfill.tags, BACKFILL_TAG: str(backfill.pk)}

    @cached_property
    def _loaded(self) -> dict[str, CodeLocation]:
        """The code locations with loaded definitions (read when something is to launch)."""
        return {
            snapshot.code_location.name: snapshot.code_location
            for snapshot in LocationSnapshot.objects.filter(
                deployment=self.backfill.deployment,
                is_current=True,
                status=LocationSnapshot.Status.OK,
            ).select_related("code_location__deployment", "code_location__organization")
        }

    def waiting_reason(self, index: int) -> str:
        """Why the planned run's next level cannot launch now ('' when it can): one of its
        code locations has no loaded definitions (its snapshot failed, or it is gone)."""
        attempt = self.stored.attempts.get(index)
        level = self.stored.stages_of(index)[attempt.level + 1 if attempt else 0]
        for stage in level:
            if stage.location not in self._loaded:
                return f"waiting for code location {stage.location!r} to load"
        return ""

    def launch(self, index: int) -> None:
        """Queue every run of the planned run's next level, or none (a savepoint): a run
        that cannot be queued fails the planned run with the reason."""
        attempt = self.stored.attempts[index]
        planned = self.stored.state.runs[index]
        level = self.stored.stages_of(index)[attempt.level + 1]
        keys = planned.partition_keys
        launched: list[Run] = []
        try:
            with transaction.atomic():
                for stage in level:
                    launched.append(
                        runs.launch_run(
                            ctx=self.ctx,
                            deployment=self.backfill.deployment,
                            location=self._loaded[stage.location],
                            selection=stage.selection,
                            partition_key=keys[0] if len(keys) == 1 else "",
                            partition_range=(keys[0], keys[-1]) if len(keys) > 1 else None,
                            tags=self.tags,
                            backfill=self.backfill,
                        )
                    )
        except AssayError as error:
            message = f"could not queue {planned.describe()}: {error.message}"
            self.report.launch_errors.append(message)
            self._fail(index, attempt, message)
            return
        ids = [str(r.id) for r in launched]
        attempt.run_ids.append(ids)
        progress = self.stored.state.progress[index]
        progress.run_id = progress.run_id or ids[0]
        self.report.launched.extend(ids)

    def _fail(self, index: int, attempt: Attempt, message: str) -> None:
        levels = self.stored.stages_of(index)
        earlier = [k for level in levels[: attempt.level + 1] for s in level for k in s.asset_keys]
        self.stored.state.mark_failed(
            index,
            message,
            asset_statuses={
                AssetKey.from_user_string(k): BackfillStatus.SUCCEEDED for k in earlier
            },
        )
        self.report.count(BackfillStatus.FAILED)


def _finish_if_done(backfill: Backfill, stored: StoredBackfill) -> None:
    state = stored.state
    running = any(p.status is BackfillStatus.IN_PROGRESS for p in state.progress)
    if backfill.status == Status.CANCELING and not running:
        backfill.status, backfill.finished_at = Status.CANCELED, timezone.now()
    elif backfill.status == Status.REQUESTED and state.is_finished:
        # Runs still canceled (a retry after a cancel, never resumed) leave it canceled.
        counts = state.counts()
        if counts[BackfillStatus.CANCELED.value]:
            backfill.status = Status.CANCELED
        elif counts[BackfillStatus.SUCCEEDED.value] == len(state.runs):
            backfill.status = Status.SUCCEEDED
        else:
            backfill.status = Status.FAILED
        backfill.finished_at = timezone.now()


def _save(
    backfill: Backfill, stored: StoredBackfill, report: _Pass, *, previous_status: str
) -> None:
    backfill.progress = stored.progress_json()
    backfill.run_counts = stored.state.counts()
    backfill.partition_counts = stored.state.partition_counts()
    backfill.passes += 1
    backfill.updated_at = timezone.now()
    backfill.save(
        update_fields=[
            "status",
            "waiting_reason",
            "progress",
            "run_counts",
            "partition_counts",
            "passes",
            "unfinished_runs",
            "updated_at",
            "finished_at",
        ]
    )
    tick = ticks.claim_tick(
        deployment=backfill.deployment,
        loop=DaemonTick.Loop.BACKFILL,
        name=str(backfill.pk),
        tick_key=str(backfill.passes),
    )
    if tick is None:  # the row lock makes this impossible; say so rather than hide it
        raise RuntimeError(f"backfill {backfill.pk}: tick {backfill.passes} exists already")
    ticks.finish_tick(
        tick,
        status=DaemonTick.Status.SUCCESS,
        run_ids=report.launched,
        details={
            "backfill_status": backfill.status,
            "previous_status": previous_status,
            "waiting_reason": backfill.waiting_reason,
            "runs_finished": report.finished,
            "launch_errors": report.launch_errors[:20],
            "run_counts": backfill.run_counts,
        },
    )


def _record_failed_pass(deployment: Deployment, pk: uuid.UUID, error: str) -> bool:
    """A pass that raised is a failed tick (and a log line): nothing fails silently. A pass
    that keeps failing on the same state (its pass count and last change are the tick key)
    records one tick, not one a second. True when this failure was new."""
    try:
        with ticks.daemon_context(deployment, f"backfill {pk}"):
            state = Backfill.objects.filter(pk=pk).values_list("passes", "updated_at").first()
            if state is None:
                return True
            passes, changed_at = state
            tick = ticks.claim_tick(
                deployment=deployment,
                loop=DaemonTick.Loop.BACKFILL,
                name=str(pk),
                tick_key=f"error-{passes}-{changed_at:%Y%m%dT%H%M%S.%f}",
            )
            if tick is None:
                return False  # recorded when this state first failed
            ticks.finish_tick(tick, status=DaemonTick.Status.FAILURE, error=error)
            return True
    except Exception:
        log.exception("backfill %s: could not record the failed pass", pk)
        return True
