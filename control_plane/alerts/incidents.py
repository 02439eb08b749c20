"""Incident keys, and the freshness trigger.

A trigger turns a domain fact into ``open_incident``/``resolve_incident`` calls with a stable
plain key, so the same problem seen again is one incident; it lives where the fact is:
runs and checks in ``runs.alert_triggers``, agents in ``agents.alert_triggers``, schedule and
sensor ticks in ``automation.ticks``. Freshness is judged from the catalog alone, so its
trigger stays here. Triggers only write rows in the caller's transaction; the alerts loop
(``delivery.deliver_due``) sends later.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from assay.freshness import FreshnessStatus
from assay.freshness_report import AssetFreshness
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.alerts.targeting import AlertSubject
from control_plane.catalog.models import LocationSnapshot
from control_plane.tenancy.models import Deployment

MAX_KEY_CHARS = 500  # Incident.key
MAX_LISTED_ASSETS = 20  # asset keys named in an incident's details


def incident_key(*parts: str) -> str:
    """``a:b`` as the incident's key; a key too long for the column keeps a readable
    prefix and a hash of the whole, so distinct long keys stay distinct."""
    key = ":".join(parts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_CHARS - 18]}~{digest}"


def listed(keys: Sequence[str]) -> list[str]:
    shown = list(keys[:MAX_LISTED_ASSETS])
    if len(keys) > MAX_LISTED_ASSETS:
        shown.append(f"... and {len(keys) - MAX_LISTED_ASSETS} more")
    return shown


# Freshness -----------------------------------------------------------------------------


@dataclass
class FreshnessChanges:
    opened: int = 0
    resolved: int = 0


def freshness_judged(
    *, deployment: Deployment, lines: Iterable[AssetFreshness]
) -> FreshnessChanges:
    """Open ``freshness_violation`` for stale assets and resolve it for fresh ones. An open
    incident whose asset no longer has a freshness policy (or no longer exists) resolves:
    there is no contract left to violate -- but not while a code location of the deployment
    fails to load, since its assets are then missing from ``lines`` without having been
    removed. An asset never materialized (unknown) changes nothing."""
    open_keys = set(
        Incident.objects.filter(
            deployment=deployment,
            kind=IncidentKind.FRESHNESS_VIOLATION,
            resolved_at__isnull=True,
        ).values_list("key", flat=True)
    )
    changes = FreshnessChanges()
    judged: set[str] = set()
    for line in lines:
        key = incident_key(line.asset_key.to_user_string())
        judged.add(key)
        if line.status is FreshnessStatus.STALE and key not in open_keys:
            open_incident(
                deployment=deployment,
                kind=IncidentKind.FRESHNESS_VIOLATION,
                key=key,
                details=_freshness_details(line),
                subject=AlertSubject(asset_keys=(line.asset_key.to_user_string(),)),
            )
            changes.opened += 1
        elif line.status is FreshnessStatus.FRESH and key in open_keys:
            resolve_incident(deployment=deployment, kind=IncidentKind.FRESHNESS_VIOLATION, key=key)
            changes.resolved += 1
    unjudged = open_keys - judged
    if unjudged and not _a_location_failed_to_load(deployment):
        for key in sorted(unjudged):
            resolve_incident(deployment=deployment, kind=IncidentKind.FRESHNESS_VIOLATION, key=key)
            changes.resolved += 1
    return changes


def _a_location_failed_to_load(deployment: Deployment) -> bool:
    return LocationSnapshot.objects.filter(
        deployment=deployment, is_current=True, status=LocationSnapshot.Status.ERROR
    ).exists()


def _freshness_details(line: AssetFreshness) -> dict[str, Any]:
    policy = line.policy
    details: dict[str, Any] = {
        "asset": line.asset_key.to_user_string(),
        "overdue_minutes": round(line.overdue_minutes or 0.0, 1),
        "last_materialization": line.last_materialization_time,
        "maximum_lag_minutes": policy.maximum_lag_minutes,
    }
    if line.partition is not None:
        details["partition"] = line.partition
    if policy.cron_schedule:
        details["cron_schedule"] = f"{policy.cron_schedule} ({policy.cron_schedule_timezone})"
    return details


# Triggers moved to where their facts are: old import paths keep working, resolved on first
# use so that this lower layer never imports the apps above it.
_MOVED = {
    **dict.fromkeys(
        ["run_failure_key", "run_failed", "run_succeeded", "check_failure_key",
         "checks_evaluated"],
        "control_plane.runs.alert_triggers",
    ),
    **dict.fromkeys(
        ["AgentWatch", "watch_agents", "agent_connected", "AGENT_OFFLINE_LOOKBACK"],
        "control_plane.agents.alert_triggers",
    ),
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _MOVED:
        return getattr(importlib.import_module(_MOVED[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
