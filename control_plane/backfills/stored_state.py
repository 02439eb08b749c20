"""A backfill's SDK ``BackfillState`` plus what the control plane adds, as stored JSON.

The SDK state knows planned runs and their statuses. The control plane adds, per planned
run, how it becomes queued runs (``Stage``: one run per code location, in dependency
order) and, per attempt, the ids of the runs it launched and why assets inside a failed
run did not succeed. The plan is stored compactly: the asset keys (and stages) of runs
that cover the same assets are stored once, so 365 days x 1,000 assets is 365 small
entries plus one list of keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from assay.backfill import BackfillPlan, BackfillRun, BackfillState, BackfillStatus, RunProgress
from assay.definitions.asset_key import AssetKey
from assay.errors import AssayError
from control_plane.backfills.errors import UnreadableBackfill

PLAN_VERSION = 1


@dataclass(frozen=True)
class Stage:
    """One queued run of a planned run: these assets of one code location."""

    location: str
    selection: str  # what the run queue and the agent get (SDK selection syntax)
    asset_keys: tuple[str, ...]


# Levels of stages: every stage of a level launches together, after the level before it
# succeeded (an asset of location B that reads one of location A in the same planned run).
Stages = tuple[tuple[Stage, ...], ...]


@dataclass
class Attempt:
    """The runs launched for the current attempt of a planned run, level by level."""

    run_ids: list[list[str]] = field(default_factory=list)
    # Asset -> why it did not succeed inside a failed run ("upstream step 'raw' failed").
    asset_reasons: dict[str, str] = field(default_factory=dict)

    @property
    def level(self) -> int:
        """The level whose runs are (or were last) running."""
        return len(self.run_ids) - 1

    @property
    def all_run_ids(self) -> list[str]:
        return [run_id for level in self.run_ids for run_id in level]


@dataclass
class StoredBackfill:
    """The state the daemon advances and the API reads."""

    state: BackfillState
    asset_set_of: list[int]  # planned run -> index into ``stages``
    stages: list[Stages]
    attempts: dict[int, Attempt] = field(default_factory=dict)

    @classmethod
    def new(
        cls, plan: BackfillPlan, stages_of: dict[tuple[AssetKey, ...], Stages]
    ) -> StoredBackfill:
        """A fresh state; ``stages_of`` holds the stages of every distinct run's assets."""
        sets: dict[tuple[AssetKey, ...], int] = {}
        for keys in stages_of:
            sets.setdefault(keys, len(sets))
        return cls(
            BackfillState(plan),
            [sets[run.asset_keys] for run in plan.runs],
            list(stages_of.values()),
        )

    def stages_of(self, index: int) -> Stages:
        return self.stages[self.asset_set_of[index]]

    def locations(self) -> set[str]:
        return {stage.location for levels in self.stages for level in levels for stage in level}

    def forget_attempts(self, indexes: list[int]) -> None:
        """Runs requested again: their last attempt's runs and per-asset outcomes no longer
        describe them (the SDK keeps ``asset_statuses``; a requested run has none)."""
        for index in indexes:
            self.attempts.pop(index, None)
            self.state.progress[index].asset_statuses = {}
            self.state.progress[index].run_id = None

    def reason_for(self, index: int, asset_key: AssetKey) -> str | None:
        """Why this asset of this planned run failed or was skipped (None otherwise)."""
        progress = self.state.progress[index]
        status = progress.status_for(asset_key)
        if status not in (BackfillStatus.FAILED, BackfillStatus.SKIPPED, BackfillStatus.CANCELED):
            return None
        attempt = self.attempts.get(index)
        own = attempt.asset_reasons.get(asset_key.to_user_string()) if attempt else None
        return own or progress.reason

    def partitions(self) -> Iterator[tuple[int, AssetKey, str | None, BackfillStatus]]:
        """(planned run, asset, partition, status) for every asset partition, in plan order."""
        for index, (run, progress) in enumerate(
            zip(self.state.runs, self.state.progress, strict=True)
        ):
            for key in run.asset_keys:
                status = progress.status_for(key)
                for partition in run.partition_keys or (None,):
                    yield index, key, partition, status

    # -- JSON -------------------------------------------------------------------------
    def plan_json(self) -> dict[str, Any]:
        keys_of = [None] * len(self.stages)
        for run, set_index in zip(self.state.runs, self.asset_set_of, strict=True):
            keys_of[set_index] = [k.to_user_string() for k in run.asset_keys]
        return {
            "version": PLAN_VERSION,
            "max_concurrent_runs": self.state.plan.max_concurrent_runs,
            "asset_sets": [
                {
                    "keys": keys,
                    "stages": [
                        [
                            {
                                "location": s.location,
                                "selection": s.selection,
                                "keys": list(s.asset_keys),
                            }
                            for s in level
                        ]
                        for level in stages
                    ],
                }
                for keys, stages in zip(keys_of, self.stages, strict=True)
            ],
            "runs": [
                [set_index, list(run.partition_keys), list(run.depends_on)]
                for run, set_index in zip(self.state.runs, self.asset_set_of, strict=True)
            ],
        }

    def progress_json(self) -> dict[str, Any]:
        """Only planned runs that moved from the initial "requested, never tried"."""
        out: dict[str, Any] = {}
        for index, progress in enumerate(self.state.progress):
            attempt = self.attempts.get(index)
            if progress == RunProgress() and attempt is None:
                continue
            entry: dict[str, Any] = {"status": progress.status.value, "attempts": progress.attempts}
            if progress.reason:
                entry["reason"] = progress.reason
            if progress.run_id:
                entry["run_id"] = progress.run_id
            if progress.asset_statuses:
                entry["asset_statuses"] = {
                    k.to_user_string(): v.value for k, v in progress.asset_statuses.items()
                }
            if attempt is not None:
                entry["run_ids"] = attempt.run_ids
                if attempt.asset_reasons:
                    entry["asset_reasons"] = attempt.asset_reasons
            out[str(index)] = entry
        return out

    @classmethod
    def from_json(cls, plan: dict[str, Any], progress: dict[str, Any]) -> StoredBackfill:
        """The stored state, or ``UnreadableBackfill`` saying what is wrong with it."""
        try:
            return cls._from_json(plan, progress)
        except (AssayError, AttributeError, IndexError, KeyError, TypeError, ValueError) as error:
            raise UnreadableBackfill(
                f"the backfill's stored plan cannot be read ({type(error).__name__}: {error}): "
                "it can only be canceled"
            ) from error

    @classmethod
    def _from_json(cls, plan: dict[str, Any], progress: dict[str, Any]) -> StoredBackfill:
        if plan.get("version") != PLAN_VERSION:
            raise ValueError(f"backfill plan version {plan.get('version')!r} is not supported")
        sets = plan["asset_sets"]
        keys = [tuple(AssetKey.from_user_string(k) for k in s["keys"]) for s in sets]
        stages = [
            tuple(
                tuple(Stage(s["location"], s["selection"], tuple(s["keys"])) for s in level)
                for level in item["stages"]
            )
            for item in sets
        ]
        runs = tuple(
            BackfillRun(keys[set_index], tuple(partitions), tuple(deps))
            for set_index, partitions, deps in plan["runs"]
        )
        progresses = [RunProgress() for _ in runs]
        attempts: dict[int, Attempt] = {}
        for raw_index, entry in progress.items():
            index = int(raw_index)
            progresses[index] = RunProgress(
                BackfillStatus(entry["status"]),
                entry.get("reason"),
                entry.get("run_id"),
                int(entry.get("attempts", 0)),
                {
                    AssetKey.from_user_string(k): BackfillStatus(v)
                    for k, v in (entry.get("asset_statuses") or {}).items()
                },
            )
            if "run_ids" in entry:
                attempts[index] = Attempt(entry["run_ids"], dict(entry.get("asset_reasons") or {}))
        state = BackfillState(
            BackfillPlan(runs, int(plan["max_concurrent_runs"])), progress=progresses
        )
        return cls(state, [r[0] for r in plan["runs"]], stages, attempts)
