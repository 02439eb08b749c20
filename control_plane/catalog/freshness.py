"""Freshness of a deployment's assets: each asset's ``FreshnessPolicy`` from the current
snapshots, judged by the SDK's ``freshness_report`` against the catalog's materializations.

One judgement for the freshness loop (which opens and resolves incidents) and for the
assets API. A partitioned asset is judged by the partitions the SDK says should be
current (the latest time window, every static key, ...), by its worst.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max

from assay.definitions.asset_key import AssetKey
from assay.freshness_report import AssetFreshness, freshness_report
from assay.graph import AssetGraph
from control_plane.catalog.deployment_graph import deployment_graph
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.models import AssetPartitionStatus, Materialization
from control_plane.tenancy.models import Deployment

Pair = tuple[str, str]  # (asset key, partition or "")


def freshness_graph(deployment: Deployment) -> AssetGraph:
    """The deployment's assets that have a freshness policy (with their partitions), as the
    current loaded snapshots define them: the deployment's shared graph, without edges."""
    graph = deployment_graph(deployment=deployment)
    return AssetGraph([]) if graph is None else graph.freshness_graph


@dataclass(frozen=True)
class LatestMaterialization:
    timestamp: datetime


class _CatalogStatus(DeploymentDynamicPartitions):
    """The catalog as ``freshness_report`` reads it: latest materialization per partition
    and the deployment's dynamic partitions.

    Asked first with nothing loaded, it records which (asset, partition) pairs the report
    judges; ``load`` then reads exactly those in two queries, whatever the history size.
    """

    def __init__(self, deployment: Deployment) -> None:
        super().__init__(deployment)
        self.asked: set[Pair] = set()
        self._times: dict[Pair, datetime] | None = None

    def latest_materialization(
        self, key: AssetKey, partition: str | None = None
    ) -> LatestMaterialization | None:
        pair = (key.to_user_string(), partition or "")
        if self._times is None:
            self.asked.add(pair)
            return None
        moment = self._times.get(pair)
        return None if moment is None else LatestMaterialization(moment)

    def load(self) -> None:
        self._times = latest_materialization_times(deployment=self.deployment, pairs=self.asked)


def latest_materialization_times(
    *, deployment: Deployment, pairs: Iterable[Pair]
) -> dict[Pair, datetime]:
    """When each (asset, partition) was last materialized; absent when never.

    ``AssetPartitionStatus`` holds the latest outcome: a materialization gives its time at
    once; only where the latest outcome is a failure is the event history consulted (a
    failed re-run does not make the data it failed to replace any older).
    """
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = AssetPartitionStatus.objects.filter(
        deployment=deployment,
        asset_key__in={key for key, _ in wanted},
        partition__in={partition for _, partition in wanted},
    ).values_list("asset_key", "partition", "status", "timestamp")
    times: dict[Pair, datetime] = {}
    failed: set[Pair] = set()
    for key, partition, status, timestamp in rows:
        if (key, partition) not in wanted:
            continue
        if status == AssetPartitionStatus.Status.MATERIALIZED:
            times[(key, partition)] = timestamp
        else:
            failed.add((key, partition))
    if failed:
        earlier = (
            Materialization.objects.filter(
                deployment=deployment,
                asset_key__in={key for key, _ in failed},
                partition__in={partition for _, partition in failed},
            )
            .values_list("asset_key", "partition")
            .annotate(last=Max("timestamp"))
        )
        times.update(
            ((key, partition), last)
            for key, partition, last in earlier
            if (key, partition) in failed
        )
    return times


def judge_freshness(
    *, deployment: Deployment, now: datetime, asset_keys: Iterable[str] | None = None
) -> list[AssetFreshness]:
    """Every asset with a freshness policy (or those of ``asset_keys``), judged at ``now``."""
    graph = freshness_graph(deployment)
    if asset_keys is not None:
        wanted = {AssetKey.from_user_string(k) for k in asset_keys}
        if not wanted & graph.nodes.keys():
            return []
        graph = AssetGraph([graph.nodes[k].spec for k in graph.toposorted if k in wanted])
    if not graph.nodes:
        return []
    status = _CatalogStatus(deployment)
    freshness_report(graph, status, now=now)  # learns which partitions are judged
    status.load()
    return freshness_report(graph, status, now=now)
