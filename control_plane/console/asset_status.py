"""Each asset's status as the console shows it: fresh / stale / failed / missing / running.

Two reads, both a constant number of queries for any number of assets:

- ``statuses``: one word per asset of the deployment, from aggregates only (outcomes per
  asset and status, failing checks, runs in progress, freshness verdicts), for the group
  counts and the status filter over 10,000 assets;
- ``asset_rows``: the catalog's full description (``catalog.queries.describe_asset``) of
  only the assets a page shows (a page of the catalog, a drawn subgraph, one asset).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count
from django.utils import timezone

from assay.errors import AssayError
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.freshness import judge_freshness
from control_plane.catalog.models import AssetCheckStatus, AssetDefinition, AssetPartitionStatus
from control_plane.catalog.partition_status import PartitionKeys, partition_outcomes
from control_plane.catalog.queries import describe_asset
from control_plane.runs.models import Run, RunStatus
from control_plane.tenancy.models import Deployment

log = logging.getLogger(__name__)

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


def _running(deployment: Deployment) -> set[str]:
    running: set[str] = set()
    for keys in Run.objects.filter(deployment=deployment, status__in=IN_PROGRESS).values_list(
        "asset_keys", flat=True
    ):
        running.update(keys)
    return running


def _stale(deployment: Deployment, asset_keys: Iterable[str] | None) -> set[str]:
    try:
        lines = judge_freshness(deployment=deployment, now=timezone.now(), asset_keys=asset_keys)
    except (AssayError, KeyError, TypeError, ValueError):
        log.exception("console: cannot judge the freshness of deployment %s", deployment.pk)
        return set()
    return {line.asset_key.to_user_string() for line in lines if line.status.value == "stale"}


def statuses(*, deployment: Deployment, keys: Iterable[str]) -> dict[str, str]:
    """The status word of each of ``keys`` (the deployment's current assets)."""
    materialized: set[str] = set()
    failed: set[str] = set()
    for asset_key, status, _n in (
        AssetPartitionStatus.objects.filter(deployment=deployment)
        .values("asset_key", "status")
        .annotate(n=Count("pk"))
        .values_list("asset_key", "status", "n")
        .order_by()
    ):
        if status == AssetPartitionStatus.Status.FAILED:
            failed.add(asset_key)
        else:
            materialized.add(asset_key)
    failed |= set(
        AssetCheckStatus.objects.filter(
            deployment=deployment, passed=False, severity="ERROR"
        ).values_list("asset_key", flat=True)
    )
    running = _running(deployment)
    stale = _stale(deployment, None)
    result = {}
    for key in keys:
        if key in running:
            result[key] = "running"
        elif key in failed:
            result[key] = "failed"
        elif key not in materialized:
            result[key] = "missing"
        elif key in stale:
            result[key] = "stale"
        else:
            result[key] = "fresh"
    return result


def status_of(info: dict[str, Any], *, last_failed: bool, running: bool) -> str:
    """One word for a described asset: running beats failed beats missing beats stale."""
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


def asset_rows(*, deployment: Deployment, keys: Iterable[str]) -> dict[str, AssetRow]:
    """The catalog's description and the status of each of ``keys``, by key."""
    wanted = sorted(set(keys))
    definitions = list(
        AssetDefinition.objects.filter(
            deployment=deployment, snapshot__is_current=True, asset_key__in=wanted
        ).select_related("code_location")
    )
    outcomes = partition_outcomes(
        deployment=deployment,
        definitions=definitions,
        keys=PartitionKeys(timezone.now(), DeploymentDynamicPartitions(deployment)),
    )
    checks: dict[str, list[AssetCheckStatus]] = {}
    for check in AssetCheckStatus.objects.filter(
        deployment=deployment, asset_key__in=wanted
    ).order_by("check_name"):
        checks.setdefault(check.asset_key, []).append(check)
    failed = set(
        AssetPartitionStatus.objects.filter(
            deployment=deployment,
            asset_key__in=wanted,
            partition="",
            status=AssetPartitionStatus.Status.FAILED,
        ).values_list("asset_key", flat=True)
    )
    running = _running(deployment)
    stale = _stale(deployment, wanted)
    rows = {}
    for d in definitions:
        info = describe_asset(d, outcomes[d.asset_key], checks.get(d.asset_key, []))
        info["freshness"] = {"status": "stale"} if d.asset_key in stale else None
        rows[d.asset_key] = AssetRow(
            key=d.asset_key,
            status=status_of(
                info, last_failed=d.asset_key in failed, running=d.asset_key in running
            ),
            info=info,
        )
    return rows
