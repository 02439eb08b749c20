"""The progress of a backfill: a status per run (and so per asset partition), as JSON.

A plain value the control plane can persist and any process can advance: ask
`next_runs()` what to launch, report each run's outcome, `cancel()`, `resume()`
or `retry_failed()`. A failed run skips every run that (transitively) waits for
it, with the reason; runs that do not depend on it carry on.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assay.backfill.plan import BackfillPlan, BackfillRun
from assay.definitions.asset_key import AssetKey
from assay.errors import AssayError

STATE_VERSION = 1


class BackfillStateError(AssayError):
    """A transition that makes no sense (e.g. finishing a run that never started)."""


class BackfillStatus(StrEnum):
    """Where one run (and every asset partition in it) stands."""

    REQUESTED = "requested"
    IN_PROGRESS = "in_progress"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    SKIPPED = "skipped"


_TERMINAL = {BackfillStatus.SUCCEEDED, BackfillStatus.FAILED, BackfillStatus.SKIPPED}


@dataclass
class RunProgress:
    """The status of one planned run, why (for failures and skips), and its attempts."""

    status: BackfillStatus = BackfillStatus.REQUESTED
    reason: str | None = None
    run_id: str | None = None
    attempts: int = 0
    # In a failed run, what became of each asset (some may have succeeded); empty otherwise.
    asset_statuses: dict[AssetKey, BackfillStatus] = field(default_factory=dict)

    def status_for(self, key: AssetKey) -> BackfillStatus:
        """The status of `key` in this run: its own when the run reported one."""
        return self.asset_statuses.get(key, self.status)


class BackfillState:
    """A backfill's plan plus the progress of every run in it."""

    def __init__(
        self,
        plan: BackfillPlan,
        *,
        backfill_id: str = "backfill",
        progress: list[RunProgress] | None = None,
    ) -> None:
        self.plan = plan
        self.backfill_id = backfill_id
        self.progress = progress or [RunProgress() for _ in plan.runs]
        if len(self.progress) != len(plan.runs):
            raise BackfillStateError("progress does not match the plan's runs")
        dependents: list[list[int]] = [[] for _ in plan.runs]
        for index, run in enumerate(plan.runs):
            if any(not 0 <= dep < index for dep in run.depends_on):
                raise BackfillStateError(
                    f"not a valid backfill state: run {index} waits for a run that does not "
                    f"come before it ({list(run.depends_on)})"
                )
            for dep in run.depends_on:
                dependents[dep].append(index)
        self._dependents = dependents

    # -- reading ----------------------------------------------------------------------
    @property
    def runs(self) -> tuple[BackfillRun, ...]:
        return self.plan.runs

    def status(self, index: int) -> BackfillStatus:
        return self.progress[index].status

    def counts(self) -> dict[str, int]:
        """Runs per status (every status present, zero or not)."""
        counted = Counter(p.status for p in self.progress)
        return {s.value: counted.get(s, 0) for s in BackfillStatus}

    def partition_counts(self) -> dict[str, int]:
        """Asset partitions per status (an unpartitioned asset counts as one)."""
        out = dict.fromkeys((s.value for s in BackfillStatus), 0)
        for run, progress in zip(self.plan.runs, self.progress, strict=True):
            for key in run.asset_keys:
                out[progress.status_for(key).value] += max(1, len(run.partition_keys))
        return out

    def partition_statuses(self) -> Iterator[tuple[AssetKey, str | None, BackfillStatus]]:
        """(asset, partition, status) for every asset partition in the backfill."""
        for run, progress in zip(self.plan.runs, self.progress, strict=True):
            for key in run.asset_keys:
                status = progress.status_for(key)
                for partition in run.partition_keys or (None,):
                    yield key, partition, status

    def status_of(self, asset_key: AssetKey, partition_key: str | None = None) -> BackfillStatus:
        """The status of one asset partition; KeyError when the backfill does not cover it."""
        for run, progress in zip(self.plan.runs, self.progress, strict=True):
            if asset_key in run.asset_keys and (
                partition_key in run.partition_keys
                or (partition_key is None and not run.partition_keys)
            ):
                return progress.status_for(asset_key)
        raise KeyError(f"the backfill does not cover {asset_key} [{partition_key}]")

    @property
    def is_finished(self) -> bool:
        """Nothing requested or running: every run succeeded, failed, was skipped or canceled."""
        return all(
            p.status not in (BackfillStatus.REQUESTED, BackfillStatus.IN_PROGRESS)
            for p in self.progress
        )

    @property
    def has_failures(self) -> bool:
        return any(p.status is BackfillStatus.FAILED for p in self.progress)

    def next_runs(self) -> list[int]:
        """Requested runs whose upstream runs all succeeded, in plan order, filling the free
        slots under `max_concurrent_runs`."""
        busy = sum(p.status is BackfillStatus.IN_PROGRESS for p in self.progress)
        free = self.plan.max_concurrent_runs - busy
        out: list[int] = []
        if free <= 0:
            return out
        for index, (run, progress) in enumerate(zip(self.plan.runs, self.progress, strict=True)):
            if progress.status is not BackfillStatus.REQUESTED:
                continue
            if all(self.progress[d].status is BackfillStatus.SUCCEEDED for d in run.depends_on):
                out.append(index)
                if len(out) == free:
                    break
        return out

    # -- transitions ------------------------------------------------------------------
    def mark_in_progress(self, index: int, *, run_id: str | None = None) -> None:
        progress = self._expect(index, BackfillStatus.REQUESTED, "start")
        progress.status = BackfillStatus.IN_PROGRESS
        progress.run_id = run_id
        progress.reason = None
        progress.asset_statuses = {}
        progress.attempts += 1

    def mark_succeeded(self, index: int) -> None:
        progress = self._expect(index, BackfillStatus.IN_PROGRESS, "finish")
        progress.status = BackfillStatus.SUCCEEDED

    def mark_failed(
        self,
        index: int,
        reason: str,
        *,
        asset_statuses: dict[AssetKey, BackfillStatus] | None = None,
    ) -> list[int]:
        """Fail a run and skip every requested run that waits for it; returns those skipped.

        `asset_statuses` records assets of the run that still succeeded (or were skipped).
        """
        progress = self._expect(index, BackfillStatus.IN_PROGRESS, "fail")
        progress.status = BackfillStatus.FAILED
        progress.reason = reason
        progress.asset_statuses = dict(asset_statuses or {})
        cause = f"upstream run {self.plan.runs[index].describe()} failed"
        skipped: list[int] = []
        stack = list(self._dependents[index])
        while stack:
            child = stack.pop()
            child_progress = self.progress[child]
            if child_progress.status is not BackfillStatus.REQUESTED:
                continue
            child_progress.status = BackfillStatus.SKIPPED
            child_progress.reason = cause
            skipped.append(child)
            stack.extend(self._dependents[child])
        return sorted(skipped)

    def mark_canceled(self, index: int, reason: str = "canceled") -> None:
        """A run that was running (or requested) and was stopped before it finished."""
        progress = self.progress[index]
        if progress.status in _TERMINAL:
            raise BackfillStateError(f"run {index} already {progress.status.value}")
        progress.status = BackfillStatus.CANCELED
        progress.reason = reason

    def cancel(self, reason: str = "canceled") -> list[int]:
        """Stop launching: every requested run becomes canceled (running ones finish)."""
        canceled = [i for i, p in enumerate(self.progress) if p.status is BackfillStatus.REQUESTED]
        for index in canceled:
            self.progress[index].status = BackfillStatus.CANCELED
            self.progress[index].reason = reason
        return canceled

    def resume(self) -> list[int]:
        """Request the canceled runs again."""
        return self._rerequest({BackfillStatus.CANCELED})

    def retry_failed(self) -> list[int]:
        """Request the failed runs again, and the runs skipped because of them."""
        return self._rerequest({BackfillStatus.FAILED, BackfillStatus.SKIPPED})

    def _rerequest(self, statuses: set[BackfillStatus]) -> list[int]:
        again = [i for i, p in enumerate(self.progress) if p.status in statuses]
        for index in again:
            self.progress[index].status = BackfillStatus.REQUESTED
            self.progress[index].reason = None
        return again

    def _expect(self, index: int, status: BackfillStatus, verb: str) -> RunProgress:
        progress = self.progress[index]
        if progress.status is not status:
            raise BackfillStateError(
                f"cannot {verb} run {index} ({self.plan.runs[index].describe()}): "
                f"it is {progress.status.value}, not {status.value}"
            )
        return progress

    # -- JSON -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "backfill_id": self.backfill_id,
            "max_concurrent_runs": self.plan.max_concurrent_runs,
            "runs": [
                {
                    "asset_keys": [k.to_user_string() for k in run.asset_keys],
                    "partition_keys": list(run.partition_keys),
                    "depends_on": list(run.depends_on),
                    "status": p.status.value,
                    "reason": p.reason,
                    "run_id": p.run_id,
                    "attempts": p.attempts,
                    "asset_statuses": {
                        k.to_user_string(): v.value for k, v in p.asset_statuses.items()
                    },
                }
                for run, p in zip(self.plan.runs, self.progress, strict=True)
            ],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> BackfillState:
        """Rebuild a state from `to_dict()`; anything malformed is a `BackfillStateError`."""
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            version = data.get("version") if isinstance(data, dict) else None
            raise BackfillStateError(
                f"backfill state version {version!r} is not supported "
                f"(this Assay reads version {STATE_VERSION})"
            )
        try:
            return cls._from_valid_version(data)
        except BackfillStateError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackfillStateError(f"not a valid backfill state: {exc!r}") from exc

    @classmethod
    def _from_valid_version(cls, data: dict[str, Any]) -> BackfillState:
        runs = []
        progress = []
        for item in data["runs"]:
            runs.append(
                BackfillRun(
                    tuple(AssetKey.from_user_string(k) for k in item["asset_keys"]),
                    tuple(item["partition_keys"]),
                    tuple(item["depends_on"]),
                )
            )
            progress.append(
                RunProgress(
                    BackfillStatus(item["status"]),
                    item.get("reason"),
                    item.get("run_id"),
                    int(item.get("attempts", 0)),
                    {
                        AssetKey.from_user_string(k): BackfillStatus(v)
                        for k, v in (item.get("asset_statuses") or {}).items()
                    },
                )
            )
        plan = BackfillPlan(tuple(runs), int(data["max_concurrent_runs"]))
        return cls(plan, backfill_id=data["backfill_id"], progress=progress)

    @classmethod
    def from_json(cls, text: str) -> BackfillState:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BackfillStateError(f"a backfill state is JSON: {exc}") from exc
        return cls.from_dict(data)
