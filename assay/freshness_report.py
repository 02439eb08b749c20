"""The freshness report: every asset with a `FreshnessPolicy`, fresh or stale, and by how much.

Pure: `now` and the status source are given. The status source is either a mapping
of asset key to last materialization time, or any object with
`latest_materialization(key, partition)` returning a record with a `timestamp`
(seconds since the epoch), as the automation status views do. A time-partitioned
asset is judged by its latest partition (the newest data it should have).
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
from assay.partitions import TimeWindowPartitionsDefinition


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
    out = []
    for key in graph.toposorted:
        spec = graph.nodes[key].spec
        policy = spec.freshness_policy
        if policy is None:
            continue
        partition = None
        pdef = spec.partitions_def
        if isinstance(pdef, TimeWindowPartitionsDefinition):
            partition = pdef.get_last_partition_key(now)
        last = _last_time(status, key, partition)
        verdict = evaluate_freshness(policy, now=now, last_materialization_time=last)
        out.append(
            AssetFreshness(
                key,
                verdict.status,
                verdict.overdue_minutes,
                last,
                verdict.stale_at,
                partition,
                policy,
            )
        )
    return out


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
