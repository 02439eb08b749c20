"""Each asset's status as the console shows it, from the catalog's own reads.

fresh / stale / failed / missing / running, in a constant number of queries for any number
of assets: the catalog's ``list_assets`` (latest materialization, partition counts, checks,
freshness), the latest outcome of unpartitioned assets, and the runs in progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from control_plane.catalog.models import AssetPartitionStatus
from control_plane.catalog.queries import list_assets
from control_plane.runs.models import Run, RunStatus
from control_plane.tenancy.models import Deployment

IN_PROGRESS = [RunStatus.QUEUED, RunStatus.STARTING, RunStatus.STARTED]
STATUSES = ("running", "failed", "stale", "missing", "fresh")


@dataclass
class AssetRow:
    key: str
    status: str
    info: dict[str, Any] = field(repr=False)

    @property
    def failed_checks(self) -> list[dict[str, Any]]:
        return [c for c in self.info["checks"] if not c["passed"]]


def status_of(info: dict[str, Any], *, last_failed: bool, running: bool) -> str:
    """One word for an asset: running beats failed beats stale beats missing."""
    if running:
        return "running"
    partitions = info["partitions"]
    if last_failed or (partitions and partitions["failed"]):
        return "failed"
    if any(not c["passed"] and c["severity"] == "ERROR" for c in info["checks"]):
        return "failed"
    if info["latest_materialization"] is None:
        return "missing"
    if info["freshness"] and info["freshness"]["status"] == "stale":
        return "stale"
    return "fresh"


def asset_rows(*, deployment: Deployment) -> dict[str, AssetRow]:
    """Every current asset of the deployment with its status, by key."""
    infos = list_assets(deployment=deployment)
    failed = set(
        AssetPartitionStatus.objects.filter(
            deployment=deployment, partition="", status=AssetPartitionStatus.Status.FAILED
        ).values_list("asset_key", flat=True)
    )
    running: set[str] = set()
    for keys in Run.objects.filter(deployment=deployment, status__in=IN_PROGRESS).values_list(
        "asset_keys", flat=True
    ):
        running.update(keys)
    return {
        info["key"]: AssetRow(
            key=info["key"],
            status=status_of(
                info, last_failed=info["key"] in failed, running=info["key"] in running
            ),
            info=info,
        )
        for info in infos
    }
