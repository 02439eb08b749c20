"""Runs that schedules and sensors ask for: queued through the normal run queue, each run
key at most once per instigator."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from control_plane.automation.instigators import InstigatorSpec
from control_plane.automation.models import InstigatorRunKey
from control_plane.core.context import TenantContext
from control_plane.runs import services as runs
from control_plane.runs.models import Run
from control_plane.tenancy import queries as tenancy_queries
from control_plane.tenancy.models import CodeLocation, Deployment

# Tags every run launched by the daemon carries, so a person can see where it came from.
SCHEDULE_TAG = "assay/schedule"
SENSOR_TAG = "assay/sensor"
RUN_KEY_TAG = "assay/run_key"


@dataclass(frozen=True)
class RequestedRun:
    """What a tick asked for (a ``RunRequest`` as it crossed from the agent)."""

    run_key: str = ""
    asset_selection: str = ""
    partition_key: str = ""
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class Launched:
    runs: list[Run] = field(default_factory=list)
    duplicate_run_keys: list[str] = field(default_factory=list)


def launch_requested_runs(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    spec: InstigatorSpec,
    requests: Iterable[RequestedRun],
    location: CodeLocation | None = None,
    keep_run_keys: bool = True,
) -> Launched:
    """Queue one run per request not seen before (by run key). Call inside a transaction:
    an invalid request raises and nothing of the tick is kept.

    ``keep_run_keys=False`` is for a schedule without a function: its tick claim already
    makes each scheduled time launch once, so its keys need no bookkeeping.
    """
    if location is None:
        location = tenancy_queries.get_code_location(deployment=deployment, name=spec.location_name)
    requests = list(requests)
    keys = [r.run_key for r in requests if r.run_key] if keep_run_keys else []
    seen = set(
        InstigatorRunKey.objects.filter(
            deployment=deployment, kind=spec.kind, name=spec.name, run_key__in=keys
        ).values_list("run_key", flat=True)
        if keys
        else ()
    )
    launched = Launched()
    origin = SCHEDULE_TAG if spec.kind == "schedule" else SENSOR_TAG
    for request in requests:
        if request.run_key and request.run_key in seen:
            launched.duplicate_run_keys.append(request.run_key)
            continue
        tags = {**spec.tags, **request.tags, origin: spec.name}
        if request.run_key:
            tags[RUN_KEY_TAG] = request.run_key[:200]
        run = runs.launch_run(
            ctx=ctx,
            deployment=deployment,
            location=location,
            selection=request.asset_selection or spec.selection,
            partition_key=request.partition_key,
            tags=tags,
        )
        if request.run_key and keep_run_keys:
            seen.add(request.run_key)
            InstigatorRunKey.objects.create(
                organization_id=deployment.organization_id,
                deployment=deployment,
                kind=spec.kind,
                name=spec.name,
                run_key=request.run_key,
                run_id=run.id,
            )
        launched.runs.append(run)
    return launched
