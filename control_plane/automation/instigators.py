"""Schedules and sensors as the deployment's current snapshots define them, with their state.

The snapshot says what exists (cron, target, interval, default status); ``InstigatorState``
says what the control plane added (on/off, cursor, the last tick handled). A state row is
created the first time the daemon or the API sees an instigator.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q
from django.utils import timezone

from control_plane.automation.models import InstigatorKind, InstigatorState
from control_plane.catalog.models import LocationSnapshot
from control_plane.tenancy.models import Deployment

Key = tuple[str, str, str]  # (kind, location name, name)


@dataclass(frozen=True)
class InstigatorSpec:
    """One schedule or sensor of one code location, from its snapshot."""

    kind: str
    name: str
    location_name: str
    selection: str
    default_status: str = InstigatorState.Status.STOPPED
    cron_schedule: str = ""
    execution_timezone: str = "UTC"
    partitions: dict[str, Any] | None = None
    has_function: bool = False
    tags: dict[str, str] = field(default_factory=dict)
    minimum_interval_seconds: int = 30

    @property
    def key(self) -> Key:
        return (self.kind, self.location_name, self.name)


# Deployment id -> {location name: (snapshot id, its specs)}: each snapshot is parsed once,
# as the daemon reads the specs every second, and an entry is replaced when its location
# loads new definitions (one per loaded location; ``retain`` drops gone deployments).
_PARSED: dict[int, dict[str, tuple[str, tuple[InstigatorSpec, ...]]]] = {}
_PARSED_LOCK = threading.Lock()


def _parse(snapshot_json: str, location_name: str) -> tuple[InstigatorSpec, ...]:
    data = json.loads(snapshot_json)
    specs: list[InstigatorSpec] = []
    for item in data.get("schedule_specs") or ():
        specs.append(
            InstigatorSpec(
                kind=InstigatorKind.SCHEDULE,
                name=item["name"],
                location_name=location_name,
                selection=item.get("selection") or "",
                default_status=_status(item.get("default_status")),
                cron_schedule=item["cron_schedule"],
                execution_timezone=item.get("execution_timezone") or "UTC",
                partitions=item.get("partitions"),
                has_function=bool(item.get("has_function")),
                tags=dict(item.get("tags") or {}),
            )
        )
    for item in data.get("sensor_specs") or ():
        specs.append(
            InstigatorSpec(
                kind=InstigatorKind.SENSOR,
                name=item["name"],
                location_name=location_name,
                selection=item.get("selection") or "",
                default_status=_status(item.get("default_status")),
                has_function=True,
                minimum_interval_seconds=int(item.get("minimum_interval_seconds") or 30),
            )
        )
    return tuple(specs)


def _status(value: Any) -> str:
    return (
        InstigatorState.Status.RUNNING
        if value == InstigatorState.Status.RUNNING
        else InstigatorState.Status.STOPPED
    )


def instigator_specs(*, deployment: Deployment, kind: str | None = None) -> list[InstigatorSpec]:
    """Every schedule/sensor of the deployment's loaded locations, by location then name."""
    current = LocationSnapshot.objects.filter(
        deployment=deployment, is_current=True, status=LocationSnapshot.Status.OK
    ).values_list("pk", "snapshot_id", "code_location__name")
    with _PARSED_LOCK:
        known = dict(_PARSED.get(deployment.pk, {}))
    parsed: dict[str, tuple[str, tuple[InstigatorSpec, ...]]] = {}
    for pk, snapshot_id, location_name in current:
        found = known.get(location_name)
        if found is None or found[0] != snapshot_id:
            text = LocationSnapshot.objects.values_list("snapshot_json", flat=True).get(pk=pk)
            found = (snapshot_id, _parse(text, location_name))
        parsed[location_name] = found
    with _PARSED_LOCK:
        _PARSED[deployment.pk] = parsed  # locations no longer loaded drop out
    specs = [s for _, found in parsed.values() for s in found if kind is None or s.kind == kind]
    return sorted(specs, key=lambda s: (s.location_name, s.kind, s.name))


def retain(*, deployment_ids: Iterable[int]) -> None:
    """Keep only the parsed specs of ``deployment_ids`` (the deployments the loops serve)."""
    live = set(deployment_ids)
    with _PARSED_LOCK:
        for gone in [pk for pk in _PARSED if pk not in live]:
            del _PARSED[gone]


def ensure_states(
    *, deployment: Deployment, specs: Iterable[InstigatorSpec], now: datetime | None = None
) -> dict[Key, InstigatorState]:
    """The state of each spec, created where missing. A new schedule starts counting ticks
    from now: it never catches up on ticks from before it existed."""
    specs = list(specs)
    if not specs:
        return {}
    now = now or timezone.now()
    kinds = {s.kind for s in specs}
    existing = {
        (s.kind, s.location_name, s.name): s
        for s in InstigatorState.objects.filter(deployment=deployment, kind__in=kinds)
    }
    missing = [s for s in specs if s.key not in existing]
    if missing:
        InstigatorState.objects.bulk_create(
            [
                InstigatorState(
                    organization_id=deployment.organization_id,
                    deployment=deployment,
                    kind=s.kind,
                    name=s.name,
                    location_name=s.location_name,
                    last_tick_time=now if s.kind == InstigatorKind.SCHEDULE else None,
                )
                for s in missing
            ],
            ignore_conflicts=True,  # a replica may create the same rows at the same time
        )
        existing = {
            (s.kind, s.location_name, s.name): s
            for s in InstigatorState.objects.filter(deployment=deployment, kind__in=kinds)
        }
    return {s.key: existing[s.key] for s in specs}


def effective_status(state: InstigatorState, spec: InstigatorSpec) -> str:
    """What a person set, else what the code says (except in branch deployments, where
    schedules and sensors stay off until someone starts them)."""
    if state.status:
        return state.status
    if _is_branch_deployment(state.deployment_id):
        return InstigatorState.Status.STOPPED
    return spec.default_status


_DEPLOYMENT_KINDS: dict[int, bool] = {}


def _is_branch_deployment(deployment_id: int) -> bool:
    """A deployment's kind never changes, so it is looked up once per process."""
    if deployment_id not in _DEPLOYMENT_KINDS:
        kind = Deployment.objects.unscoped().filter(pk=deployment_id).values_list("kind", flat=True)
        _DEPLOYMENT_KINDS[deployment_id] = kind.first() == Deployment.Kind.BRANCH
    return _DEPLOYMENT_KINDS[deployment_id]


def running(
    *, deployment: Deployment, kind: str, now: datetime
) -> list[tuple[InstigatorSpec, InstigatorState]]:
    """The deployment's running schedules or sensors, each with its state.

    A stopped schedule's last tick time keeps up with the clock (one UPDATE, each row at
    most once a minute, as cron ticks are whole minutes), so a schedule switched on by
    its code (``default_status``) counts ticks from then, as one a person starts does:
    it never catches up on the time it was stopped.
    """
    specs = instigator_specs(deployment=deployment, kind=kind)
    states = ensure_states(deployment=deployment, specs=specs, now=now)
    result: list[tuple[InstigatorSpec, InstigatorState]] = []
    stopped: list[int] = []
    for spec in specs:
        state = states[spec.key]
        if effective_status(state, spec) == InstigatorState.Status.RUNNING:
            result.append((spec, state))
        else:
            stopped.append(state.pk)
    if kind == InstigatorKind.SCHEDULE and stopped:
        minute = now.replace(second=0, microsecond=0)
        InstigatorState.objects.filter(
            Q(last_tick_time__isnull=True) | Q(last_tick_time__lt=minute), pk__in=stopped
        ).update(last_tick_time=now, updated_at=now)
    return result


def deployments_with_snapshots() -> list[Deployment]:
    """Deployments (of every organization) that have at least one loaded location."""
    ids = (
        LocationSnapshot.objects.unscoped()  # the daemon serves every organization
        .filter(is_current=True, status=LocationSnapshot.Status.OK)
        .values_list("deployment_id", flat=True)
        .distinct()
    )
    return list(
        Deployment.objects.unscoped()  # each is then handled in its own organization's context
        .select_related("organization")
        .filter(pk__in=list(ids))
        .order_by("pk")
    )
