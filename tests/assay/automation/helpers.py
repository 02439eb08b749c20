"""Small builders shared by the automation tests: a clock, a status view, a tick."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from assay import AssetKey, Definitions
from assay.automation import (
    AutomationCursor,
    AutomationResult,
    InMemoryStatusView,
    evaluate_automation_conditions,
)
from assay.automation.subsets import ALL_UNPARTITIONED
from assay.partitions import DailyPartitionsDefinition

DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
# At this time the daily partitions are 2024-01-01 .. 2024-01-09 (nine of them).
T0 = datetime(2024, 1, 10, 1, 0, tzinfo=UTC)


def key(name: str) -> AssetKey:
    return AssetKey.from_user_string(name)


def days(*partition_keys: str):  # type: ignore[no-untyped-def]
    return DAILY.subset_with_partition_keys(partition_keys)


class World:
    """A status view plus a clock plus the previous cursor: one tick at a time."""

    def __init__(self, defs: Definitions, now: datetime = T0) -> None:
        self.defs = defs
        self.status = InMemoryStatusView()
        self.now = now
        self.cursor: AutomationCursor | None = None
        self.last: AutomationResult | None = None

    def materialize(self, name: str, *partitions: str, code_version: str | None = None) -> None:
        subset = days(*partitions) if partitions else ALL_UNPARTITIONED
        self.status.record_materialization(
            key(name), subset, timestamp=self.now.timestamp(), code_version=code_version
        )

    def start(self, name: str, *partitions: str) -> None:
        self.status.record_in_progress(
            key(name), days(*partitions) if partitions else ALL_UNPARTITIONED
        )

    def fail(self, name: str, *partitions: str) -> None:
        self.status.record_failure(
            key(name), days(*partitions) if partitions else ALL_UNPARTITIONED
        )

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def tick(self, *, incremental: bool = True) -> AutomationResult:
        self.last = evaluate_automation_conditions(
            defs=self.defs,
            instance=self.status,
            evaluation_time=self.now,
            cursor=self.cursor,
            incremental=incremental,
        )
        self.cursor = self.last.cursor
        return self.last

    def requested(self, name: str) -> list[str | None]:
        assert self.last is not None
        subset = self.last.requested.get(key(name))
        return [] if subset is None else list(subset)

    def run_requested(self) -> None:
        """The runs of the last tick complete: every requested partition is materialized."""
        assert self.last is not None
        for asset_key, subset in self.last.requested.items():
            self.status.record_materialization(asset_key, subset, timestamp=self.now.timestamp())
