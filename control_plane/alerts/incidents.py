"""What opens and resolves each kind of incident: the triggers other apps call.

Each function turns a domain fact (a run finished, check evaluations were ingested, agents
went silent or came back, freshness was judged) into ``open_incident``/``resolve_incident``
calls with a stable key, so the same problem seen again is one incident. They only write
rows in the caller's transaction; the alerts loop (``delivery.deliver_due``) sends later.
Schedule and sensor tick failures are handled where ticks finish (``automation.ticks``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from assay.freshness import FreshnessStatus
from assay.freshness_report import AssetFreshness
from control_plane.agents.models import AgentSession
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.alerts.targeting import AlertSubject
from control_plane.catalog.models import LocationSnapshot
from control_plane.runs.models import Run
from control_plane.tenancy.models import Deployment

if TYPE_CHECKING:
    from control_plane.catalog.models import CheckEvaluation

MAX_KEY_CHARS = 500  # Incident.key
MAX_LISTED_ASSETS = 20  # asset keys named in an incident's details
# An agent silent for longer than this before the monitor first sees it is not reported:
# otherwise the first pass after an upgrade would alert for every agent id ever retired.
AGENT_OFFLINE_LOOKBACK = timedelta(days=1)


def incident_key(*parts: str) -> str:
    """``a:b`` as the incident's key; a key too long for the column keeps a readable
    prefix and a hash of the whole, so distinct long keys stay distinct."""
    key = ":".join(parts)
    if len(key) <= MAX_KEY_CHARS:
        return key
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return f"{key[: MAX_KEY_CHARS - 18]}~{digest}"


def _listed(keys: Sequence[str]) -> list[str]:
    shown = list(keys[:MAX_LISTED_ASSETS])
    if len(keys) > MAX_LISTED_ASSETS:
        shown.append(f"... and {len(keys) - MAX_LISTED_ASSETS} more")
    return shown


# Runs ----------------------------------------------------------------------------------


def run_failure_key(run: Run) -> str:
    """Failures of the same selection in the same code location are one incident."""
    return incident_key(run.code_location.name, run.selection or "*")


def run_failed(*, run: Run) -> Incident:
    """A run failed and no retry is queued: open (or keep) its selection's incident."""
    return open_incident(
        deployment=run.deployment,
        kind=IncidentKind.RUN_FAILURE,
        key=run_failure_key(run),
        details={
            "run_id": str(run.id),
            "location": run.code_location.name,
            "selection": run.selection or "*",
            "partition": _partition_of(run),
            "attempt": run.retry_count + 1,
            "reason": (run.reason or "")[:2000],
            "asset_keys": _listed(run.asset_keys),
        },
        subject=AlertSubject(asset_keys=tuple(run.asset_keys), tags=dict(run.tags)),
    )


def run_succeeded(*, run: Run) -> list[Incident]:
    """A run succeeded: the failure incidents of its code location that it redid resolve --
    the same selection's, or any whose failed run's assets it all materialized (automation
    launches ``a, b`` where a person ran ``a``). A partitioned failure resolves only when
    this run redid the same partition (or range): other partitions of a backfill succeeding
    do not announce a fix that did not happen."""
    key = run_failure_key(run)
    location = run.code_location.name
    failures = list(
        Incident.objects.filter(
            deployment_id=run.deployment_id,
            kind=IncidentKind.RUN_FAILURE,
            resolved_at__isnull=True,
            details__location=location,
        ).values_list("key", "details")
    )
    if not failures:
        return []  # the common case costs one indexed read
    partition = _partition_of(run)
    redone = {k: d for k, d in failures if d.get("partition") in (None, partition)}
    wider = {d["run_id"] for k, d in redone.items() if k != key and d.get("run_id")}
    assets_of = (
        {
            str(pk): asset_keys
            for pk, asset_keys in Run.objects.filter(
                deployment_id=run.deployment_id, pk__in=wider
            ).values_list("pk", "asset_keys")
        }
        if wider
        else {}
    )
    done = set(run.asset_keys)
    resolved = []
    for failed_key, details in redone.items():
        failed_assets = assets_of.get(details.get("run_id"), ())
        if failed_key == key or (failed_assets and done.issuperset(failed_assets)):
            incident = resolve_incident(
                deployment=run.deployment, kind=IncidentKind.RUN_FAILURE, key=failed_key
            )
            if incident is not None:
                resolved.append(incident)
    return resolved


def _partition_of(run: Run) -> str | None:
    if run.partition_key:
        return run.partition_key
    if run.partition_range_start:
        return f"{run.partition_range_start}...{run.partition_range_end}"
    return None


# Asset checks --------------------------------------------------------------------------


def check_failure_key(asset_key: str, check_name: str) -> str:
    return incident_key(asset_key, check_name)


def checks_evaluated(*, evaluations: Iterable[CheckEvaluation]) -> None:
    """Ingested check evaluations (one batch, in event order): the latest of each check and
    partition decides. A failure opens ``check_failure`` (its details name the partition);
    a pass resolves it only for the same partition (or any, when the failure had none), as
    a run's success does: another day passing does not fix the one that failed. Resolving
    comes first, so a batch where one day recovers and another fails ends with the other
    day's incident open. One query per batch that has passing checks."""
    latest: dict[tuple[int, str, str | None], CheckEvaluation] = {}
    for evaluation in evaluations:
        key = check_failure_key(evaluation.asset_key, evaluation.check_name)
        latest[(evaluation.deployment_id, key, evaluation.partition or None)] = evaluation
    if not latest:
        return
    passed: dict[tuple[int, str], set[str | None]] = {}
    for (deployment_id, key, partition), evaluation in latest.items():
        if evaluation.passed:
            passed.setdefault((deployment_id, key), set()).add(partition)
    failing = [triple for triple, e in latest.items() if not e.passed]
    recovering: list[tuple[int, str]] = []
    if passed:
        open_incidents = Incident.objects.filter(
            deployment_id__in={d for d, _ in passed},
            kind=IncidentKind.CHECK_FAILURE,
            key__in={k for _, k in passed},
            resolved_at__isnull=True,
        ).values_list("deployment_id", "key", "details")
        recovering = sorted(
            (deployment_id, key)
            for deployment_id, key, details in open_incidents
            if (deployment_id, key) in passed
            and (
                details.get("partition") is None
                or details["partition"] in passed[(deployment_id, key)]
            )
        )
    if not failing and not recovering:
        return
    deployments = Deployment.objects.in_bulk({d for d, *_ in failing + recovering})
    for deployment_id, key in recovering:
        resolve_incident(
            deployment=deployments[deployment_id], kind=IncidentKind.CHECK_FAILURE, key=key
        )
    for deployment_id, key, partition in failing:
        evaluation = latest[(deployment_id, key, partition)]
        severity = (evaluation.severity or "ERROR").upper()
        open_incident(
            deployment=deployments[deployment_id],
            kind=IncidentKind.CHECK_FAILURE,
            key=key,
            details={
                "asset": evaluation.asset_key,
                "check": evaluation.check_name,
                "severity": severity,
                "partition": partition,
                "run_id": str(evaluation.run_id),
            },
            subject=AlertSubject(asset_keys=(evaluation.asset_key,), severity=severity),
        )


# Agents --------------------------------------------------------------------------------


@dataclass
class AgentWatch:
    opened: int = 0
    resolved: int = 0


def watch_agents(*, now: datetime, cutoff: datetime) -> AgentWatch:
    """The monitor's pass over every organization's agents.

    An agent (by ``agent_id``) is offline when none of its sessions has beaten since
    ``cutoff`` -- whether its stream was lost or closed -- and it was last seen within
    ``AGENT_OFFLINE_LOOKBACK``: ``agent_offline`` opens in each deployment its latest
    session served. An agent beating again (a new session, or the lost one revived)
    resolves it. Two queries when nothing changes.
    """
    newest_first = Window(
        RowNumber(),
        partition_by=[F("organization_id"), F("agent_id")],
        order_by=[F("last_heartbeat_at").desc(), F("connected_at").desc()],
    )
    latest_sessions = (
        AgentSession.objects.unscoped()  # the monitor watches every organization's agents
        .filter(last_heartbeat_at__gte=cutoff - AGENT_OFFLINE_LOOKBACK)
        .annotate(recency=newest_first)
        .filter(recency=1)  # each agent's latest session, picked by the database
        .values_list("organization_id", "agent_id", "last_heartbeat_at", "deployment_ids")
    )
    latest: dict[tuple[int, str], tuple[datetime, list[int]]] = {
        (org_id, agent_id): (beat, list(deployment_ids))
        for org_id, agent_id, beat, deployment_ids in latest_sessions
    }
    open_now = {
        (org_id, deployment_id, key)
        for org_id, deployment_id, key in Incident.objects.unscoped()  # every organization's
        .filter(kind=IncidentKind.AGENT_OFFLINE, resolved_at__isnull=True)
        .values_list("organization_id", "deployment_id", "key")
    }
    to_open = [
        (deployment_id, agent_id, beat)
        for (org_id, agent_id), (beat, deployment_ids) in latest.items()
        if beat < cutoff
        for deployment_id in deployment_ids
        if (org_id, deployment_id, agent_id) not in open_now
    ]
    alive = {agent for agent, (beat, _) in latest.items() if beat >= cutoff}
    to_resolve = sorted(
        (deployment_id, key) for org_id, deployment_id, key in open_now if (org_id, key) in alive
    )
    report = AgentWatch()
    if not to_open and not to_resolve:
        return report
    deployments = (
        Deployment.objects.unscoped()  # each incident is then written in its own organization
        .select_related("organization")
        .in_bulk({d for d, *_ in to_open + to_resolve})
    )
    for deployment_id, agent_id, beat in to_open:
        deployment = deployments.get(deployment_id)
        if deployment is None:
            continue  # the deployment was deleted since the session opened
        open_incident(
            deployment=deployment,
            kind=IncidentKind.AGENT_OFFLINE,
            key=agent_id,
            details={
                "agent_id": agent_id,
                "last_heartbeat_at": beat,
                "silent_minutes": round((now - beat).total_seconds() / 60, 1),
            },
        )
        report.opened += 1
    for deployment_id, agent_id in to_resolve:
        resolve_incident(
            deployment=deployments[deployment_id], kind=IncidentKind.AGENT_OFFLINE, key=agent_id
        )
        report.resolved += 1
    return report


def agent_connected(*, session: AgentSession) -> int:
    """A session opened: the agent's ``agent_offline`` incidents resolve at once (in every
    deployment of its organization, whatever this session serves). Returns how many."""
    open_incidents = Incident.objects.filter(
        organization_id=session.organization_id,
        kind=IncidentKind.AGENT_OFFLINE,
        key=session.agent_id,
        resolved_at__isnull=True,
    ).select_related("deployment")
    resolved = 0
    for incident in open_incidents:
        resolve_incident(
            deployment=incident.deployment, kind=IncidentKind.AGENT_OFFLINE, key=incident.key
        )
        resolved += 1
    return resolved


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
