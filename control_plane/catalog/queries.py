"""Catalog reads shared by the REST API and the run launcher. All go through scoped managers."""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils import timezone

from assay.errors import AssayError
from assay.freshness_report import AssetFreshness
from assay.graph import AssetGraph
from assay.selection import select_keys
from assay.snapshot import DefinitionsSnapshot
from assay.snapshot_graph import asset_graph_from_snapshots
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.errors import AssetNotFound, LocationNotLoaded
from control_plane.catalog.freshness import judge_freshness
from control_plane.catalog.models import (
    AssetCheckStatus,
    AssetDefinition,
    LocationSnapshot,
)
from control_plane.catalog.partition_status import (
    PartitionKeys,
    PartitionOutcomes,
    partition_outcomes,
)
from control_plane.tenancy.models import CodeLocation, Deployment

log = logging.getLogger(__name__)


def current_snapshot(*, location: CodeLocation) -> LocationSnapshot | None:
    """The location's current snapshot row, without its JSON (megabytes for a large
    location; every launch reads this row, and reads its definitions from the index)."""
    return (
        LocationSnapshot.objects.filter(code_location=location, is_current=True)
        .defer("snapshot_json")
        .first()
    )


def loaded_snapshot(*, location: CodeLocation) -> LocationSnapshot:
    """The location's current, successfully loaded snapshot, or ``LocationNotLoaded``."""
    snapshot = current_snapshot(location=location)
    if snapshot is None:
        raise LocationNotLoaded(
            f"code location {location.name!r} has no definitions yet: no agent has loaded it"
        )
    if snapshot.status != LocationSnapshot.Status.OK:
        first_line = (snapshot.error or "").strip().splitlines()[:1]
        raise LocationNotLoaded(
            f"code location {location.name!r} failed to load"
            + (f": {first_line[0]}" if first_line else "")
        )
    return snapshot


def selection_graph(*, snapshot: LocationSnapshot) -> AssetGraph:
    """The graph selections resolve over in one location: rebuilt from its snapshot, so
    ``group:``, ``tag:``, ``owner:`` and ``kind:`` terms see what the code declared."""
    name, text = LocationSnapshot.objects.values_list("code_location__name", "snapshot_json").get(
        pk=snapshot.pk
    )
    return asset_graph_from_snapshots({name: DefinitionsSnapshot.from_json(text)}).graph


@dataclass(frozen=True)
class SelectionIndex:
    """A snapshot's definitions by key and the graph selections resolve over."""

    definitions: dict[str, AssetDefinition]
    graph: AssetGraph
    executable: frozenset[str]  # keys of the assets a run can materialize


# (snapshot pk, content hash, location) -> its index. A snapshot's definitions never change
# after it is stored, so an entry is never stale (the hash guards against a pk that SQLite
# reuses after a rollback); launches (1,000 schedules in one minute, automation's runs)
# resolve selections without re-reading and re-linking thousands of rows each time.
_INDEXES: OrderedDict[tuple[int, str, int], SelectionIndex] = OrderedDict()
_INDEXES_LOCK = threading.Lock()
MAX_CACHED_INDEXES = 64


def selection_index(*, snapshot: LocationSnapshot) -> SelectionIndex:
    """The snapshot's definitions and selection graph, built once per process."""
    key = (snapshot.pk, snapshot.snapshot_id, snapshot.code_location_id)
    with _INDEXES_LOCK:
        found = _INDEXES.get(key)
        if found is not None:
            _INDEXES.move_to_end(key)
            return found
    definitions = list(AssetDefinition.objects.filter(snapshot=snapshot))
    index = SelectionIndex(
        definitions={d.asset_key: d for d in definitions},
        graph=selection_graph(snapshot=snapshot),
        executable=frozenset(d.asset_key for d in definitions if not d.is_external),
    )
    with _INDEXES_LOCK:
        _INDEXES[key] = index
        while len(_INDEXES) > MAX_CACHED_INDEXES:
            _INDEXES.popitem(last=False)
    return index


def resolve_selection(*, snapshot: LocationSnapshot, selection: str) -> list[AssetDefinition]:
    """Definitions a selection names in ``snapshot``; raises ``assay.errors.InvalidSelection``
    (with close matches) for names that match nothing. Empty: every executable asset."""
    index = selection_index(snapshot=snapshot)
    if not selection.strip():
        keys = index.executable
    else:
        keys = {k.to_user_string() for k in select_keys(index.graph, selection)}
    return [index.definitions[k] for k in sorted(keys) if k in index.definitions]


def current_definitions(*, deployment: Deployment) -> list[AssetDefinition]:
    return list(
        AssetDefinition.objects.filter(
            deployment=deployment, snapshot__is_current=True
        ).select_related("code_location")
    )


def list_assets(*, deployment: Deployment, location: str | None = None) -> list[dict[str, Any]]:
    """Every current asset of the deployment with its latest materialization, partition
    summary and check status: a constant number of queries for any number of assets, and
    the partition history aggregated by the database (``partition_outcomes``)."""
    definitions = [
        d
        for d in current_definitions(deployment=deployment)
        if location is None or d.code_location.name == location
    ]
    definitions.sort(key=lambda d: d.asset_key)
    now = timezone.now()
    outcomes = partition_outcomes(
        deployment=deployment,
        definitions=definitions,
        keys=PartitionKeys(now, DeploymentDynamicPartitions(deployment)),
    )
    checks: dict[str, list[AssetCheckStatus]] = {}
    for check in AssetCheckStatus.objects.filter(
        deployment=deployment, asset_key__in=[d.asset_key for d in definitions]
    ).order_by("check_name"):
        checks.setdefault(check.asset_key, []).append(check)
    freshness = _freshness_by_key(deployment=deployment, now=now)
    return [
        describe_asset(
            d,
            outcomes[d.asset_key],
            checks.get(d.asset_key, []),
            freshness=freshness.get(d.asset_key),
        )
        for d in definitions
    ]


def _freshness_by_key(
    *, deployment: Deployment, now: datetime, asset_keys: list[str] | None = None
) -> dict[str, AssetFreshness]:
    """Verdicts by asset key. Definitions the SDK cannot rebuild leave every ``freshness``
    null here (logged) rather than fail the catalog; the freshness loop records the error
    on its tick."""
    try:
        lines = judge_freshness(deployment=deployment, now=now, asset_keys=asset_keys)
    except (AssayError, KeyError, TypeError, ValueError):
        log.exception("catalog: cannot judge the freshness of deployment %s", deployment.pk)
        return {}
    return {line.asset_key.to_user_string(): line for line in lines}


def describe_asset(
    definition: AssetDefinition,
    outcomes: PartitionOutcomes,
    checks: list[AssetCheckStatus],
    *,
    freshness: AssetFreshness | None = None,
) -> dict[str, Any]:
    return {
        "key": definition.asset_key,
        "code_location": definition.code_location.name,
        "group": definition.group,
        "deps": definition.deps,
        "is_external": definition.is_external,
        "is_partitioned": definition.is_partitioned,
        "code_version": definition.code_version or None,
        "latest_materialization": outcomes.latest_materialization,
        "partitions": outcomes.summary,
        "checks": [
            {
                "name": c.check_name,
                "passed": c.passed,
                "severity": c.severity,
                "run_id": str(c.run_id),
                "timestamp": c.timestamp.isoformat(),
            }
            for c in checks
        ],
        "freshness": None
        if freshness is None
        else {
            "status": freshness.status.value,
            "overdue_minutes": freshness.overdue_minutes,
            "stale_at": _iso(freshness.stale_at),
            "last_materialization_time": _iso(freshness.last_materialization_time),
            "partition": freshness.partition,
            "maximum_lag_minutes": freshness.policy.maximum_lag_minutes,
            "cron_schedule": freshness.policy.cron_schedule,
        },
    }


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def asset_with_lineage(*, deployment: Deployment, asset_key: str) -> dict[str, Any]:
    """One asset, plus its upstream and downstream keys across the deployment's locations,
    and which upstream columns feed each of its columns."""
    definitions = current_definitions(deployment=deployment)
    by_key = {d.asset_key: d for d in definitions}
    definition = by_key.get(asset_key.strip("/"))
    if definition is None:
        raise AssetNotFound(f"asset {asset_key!r} not found")
    # Deps may name assets of other locations (or undeclared ones); lineage walks stored deps.
    children: dict[str, list[str]] = {}
    for d in definitions:
        for dep in d.deps:
            children.setdefault(dep, []).append(d.asset_key)

    def walk(start: str, neighbours) -> list[str]:
        seen: set[str] = set()
        frontier = [start]
        while frontier:
            key = frontier.pop()
            for other in neighbours(key):
                if other not in seen and other != start:
                    seen.add(other)
                    frontier.append(other)
        return sorted(seen)

    now = timezone.now()
    outcomes = partition_outcomes(
        deployment=deployment,
        definitions=[definition],
        keys=PartitionKeys(now, DeploymentDynamicPartitions(deployment)),
    )
    checks = list(
        AssetCheckStatus.objects.filter(
            deployment=deployment, asset_key=definition.asset_key
        ).order_by("check_name")
    )
    freshness = _freshness_by_key(deployment=deployment, now=now, asset_keys=[definition.asset_key])
    return {
        **describe_asset(
            definition,
            outcomes[definition.asset_key],
            checks,
            freshness=freshness.get(definition.asset_key),
        ),
        "upstream": walk(definition.asset_key, lambda k: by_key[k].deps if k in by_key else []),
        "downstream": walk(definition.asset_key, lambda k: children.get(k, [])),
        "column_lineage": definition.column_lineage or [],
    }
