"""The freshness report: every asset with a `FreshnessPolicy`, fresh or stale, and by how much.

Pure: `now` and the status source are given. The status source is either a mapping
of asset key to last materialization time (one verdict per asset), or any object with
`latest_materialization(key, partition)` returning a record with a `timestamp`
(seconds since the epoch), as the automation status views do. Then a partitioned
asset is judged by the partitions that should be current, and reported by the worst:

* time-partitioned: the latest partition (the newest data it should have); while it
  is missing it counts as due since its window ended, so a day that never landed
  makes the asset stale, by how long it has been overdue;
* date x region: the latest day of every region;
* static (and dynamic, when the status view is also the dynamic partitions store):
  every partition.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from assay.definitions.asset_key import AssetKey
from assay.definitions.definitions import Definitions
from assay.freshness import FreshnessPolicy, FreshnessStatus, evaluate_freshness
from assay.graph import AssetGraph
from assay.partitions import (
    DynamicPartitionsStore,
    MultiPartitionsDefinition,
    PartitionsDefinition,
    PartitionsError,
    TimeWindowPartitionsDefinition,
)


class LatestMaterializations(Protocol):
    """A status view that knows each asset partition's latest materialization."""

    def latest_materialization(self, key: AssetKey, partition: str | None = None) -> Any:
        """A record with `timestamp` (epoch seconds), or None when never materialized."""
        ...


StatusSource = LatestMaterializations | Mapping[AssetKey, datetime | None]


@dataclass(frozen=True)
class AssetFreshness:
    """One asset's line in the report."""

    asset_key: AssetKey
    status: FreshnessStatus
    overdue_minutes: float | None
    last_materialization_time: datetime | None
    stale_at: datetime | None
    partition: str | None
    policy: FreshnessPolicy

    def to_dict(self) -> dict[str, Any]:
        return {
            "asset_key": self.asset_key.to_user_string(),
            "status": self.status.value,
            "overdue_minutes": self.overdue_minutes,
            "last_materialization_time": _iso(self.last_materialization_time),
            "stale_at": _iso(self.stale_at),
            "partition": self.partition,
            "maximum_lag_minutes": self.policy.maximum_lag_minutes,
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def freshness_report(
    defs: Definitions | AssetGraph, status: StatusSource, *, now: datetime
) -> list[AssetFreshness]:
    """Judge every asset that has a freshness policy, in dependency order."""
    graph = defs.asset_graph if isinstance(defs, Definitions) else defs
    # Checked once: a runtime Protocol check is slow, and a report may cover 10,000 assets.
    store = status if isinstance(status, DynamicPartitionsStore) else None
    out = []
    for key in graph.toposorted:
        spec = graph.nodes[key].spec
        policy = spec.freshness_policy
        if policy is None:
            continue
        pdef = spec.partitions_def
        if isinstance(status, Mapping):
            partition = (
                pdef.get_last_partition_key(now)
                if isinstance(pdef, TimeWindowPartitionsDefinition)
                else None
            )
            out.append(_judge(key, policy, partition, status.get(key), None, now))
            continue
        lines = [
            _judge(key, policy, partition, _last_time(status, key, partition), due, now)
            for partition, due in _partitions_to_judge(pdef, now, store)
        ]
        out.append(
            max(lines, key=_badness) if lines else _judge(key, policy, None, None, None, now)
        )
    return out


def _judge(
    key: AssetKey,
    policy: FreshnessPolicy,
    partition: str | None,
    last: datetime | None,
    due: datetime | None,
    now: datetime,
) -> AssetFreshness:
    """One partition's verdict; a missing partition with a due time counts from then."""
    judged_from = last if last is not None else due
    verdict = evaluate_freshness(policy, now=now, last_materialization_time=judged_from)
    return AssetFreshness(
        key, verdict.status, verdict.overdue_minutes, last, verdict.stale_at, partition, policy
    )


_RANK = {FreshnessStatus.FRESH: 0, FreshnessStatus.UNKNOWN: 1, FreshnessStatus.STALE: 2}


def _badness(line: AssetFreshness) -> tuple[int, float, float]:
    """Stale beats unknown beats fresh; then the most overdue, then the soonest stale."""
    stale_at = line.stale_at.timestamp() if line.stale_at is not None else float("inf")
    return (_RANK[line.status], line.overdue_minutes or 0.0, -stale_at)


def _partitions_to_judge(
    pdef: PartitionsDefinition | None, now: datetime, store: DynamicPartitionsStore | None
) -> list[tuple[str | None, datetime | None]]:
    """(partition, when its data became due) for the partitions that should be current."""
    if pdef is None:
        return [(None, None)]
    if isinstance(pdef, TimeWindowPartitionsDefinition):
        latest = pdef.get_last_partition_key(now)
        if latest is None:
            return []
        return [(latest, pdef.time_window_for_partition_key(latest).end)]
    try:
        if isinstance(pdef, MultiPartitionsDefinition) and pdef.time_window_dimension:
            time_def = pdef.time_window_dimension.partitions_def
            assert isinstance(time_def, TimeWindowPartitionsDefinition)
            latest = time_def.get_last_partition_key(now)
            if latest is None:
                return []
            due = time_def.time_window_for_partition_key(latest).end
            others = pdef.primary_dimension.partitions_def.get_partition_keys(now, store)
            return [(pdef.key_from_primary_and_secondary(o, latest), due) for o in others]
        return [(k, None) for k in pdef.get_partition_keys(now, store)]
    except PartitionsError:
        return [(None, None)]  # dynamic keys with no store to list them: judge the asset


def _last_time(status: StatusSource, key: AssetKey, partition: str | None) -> datetime | None:
    if isinstance(status, Mapping):
        return status.get(key)
    record = status.latest_materialization(key, partition)
    if record is None:
        return None
    timestamp = getattr(record, "timestamp", record)
    if isinstance(timestamp, datetime):
        return timestamp
    return datetime.fromtimestamp(float(timestamp), UTC)
