"""The incidents a run's facts open and resolve: a run finished, its check evaluations were
ingested. These live with the facts (runs and their events); they call the alerts service
with plain keys (``open_incident``/``resolve_incident``) and only write rows in the caller's
transaction -- the alerts loop sends later.
"""

from __future__ import annotations

from collections.abc import Iterable

from control_plane.alerts.incidents import incident_key, listed
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.alerts.services import open_incident, resolve_incident
from control_plane.alerts.targeting import AlertSubject
from control_plane.catalog.models import CheckEvaluation
from control_plane.runs.models import Run
from control_plane.tenancy.models import Deployment

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
            "asset_keys": listed(run.asset_keys),
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
