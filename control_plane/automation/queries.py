"""Reads shared by the API: schedules and sensors with their state, and daemon ticks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Max, QuerySet
from django.utils import timezone

from assay.errors import AssayError as SdkError
from assay.schedules import next_tick
from control_plane.automation.errors import AmbiguousInstigator, InstigatorNotFound
from control_plane.automation.instigators import (
    InstigatorSpec,
    effective_status,
    ensure_states,
    instigator_specs,
)
from control_plane.automation.models import DaemonTick, InstigatorKind, InstigatorState
from control_plane.core.errors import NotFound
from control_plane.tenancy.models import Deployment


@dataclass(frozen=True)
class Instigator:
    """A schedule or sensor as the API shows it: definition, state, last and next tick."""

    spec: InstigatorSpec
    state: InstigatorState
    last_tick: DaemonTick | None
    now: datetime

    @property
    def status(self) -> str:
        return effective_status(self.state, self.spec)

    @property
    def next_tick_at(self) -> datetime | None:
        if self.status != InstigatorState.Status.RUNNING:
            return None
        if self.spec.kind == InstigatorKind.SENSOR:
            return self.state.next_evaluation_at or self.now
        after = max(self.now, self.state.last_tick_time or self.now)
        try:
            return next_tick(self.spec.cron_schedule, after, timezone=self.spec.execution_timezone)
        except SdkError:
            return None


def find_spec(
    *, deployment: Deployment, kind: str, name: str, location_name: str | None = None
) -> InstigatorSpec:
    """The one schedule/sensor called ``name`` (in ``location_name`` when given)."""
    matches = [
        s
        for s in instigator_specs(deployment=deployment, kind=kind)
        if s.name == name and (location_name is None or s.location_name == location_name)
    ]
    if not matches:
        raise InstigatorNotFound(f"no {kind} named {name!r} in deployment {deployment.name!r}")
    if len(matches) > 1:
        where = ", ".join(s.location_name for s in matches)
        raise AmbiguousInstigator(
            f"{kind} {name!r} is defined by several code locations ({where}); "
            "say which with ?location="
        )
    return matches[0]


def list_instigators(
    *, deployment: Deployment, kind: str, specs: list[InstigatorSpec] | None = None
) -> list[Instigator]:
    """Every schedule or sensor of the deployment: three queries for any number."""
    now = timezone.now()
    specs = instigator_specs(deployment=deployment, kind=kind) if specs is None else specs
    states = ensure_states(deployment=deployment, specs=specs, now=now)
    latest = (
        DaemonTick.objects.filter(deployment=deployment, loop=kind)
        .values("location_name", "name")
        .annotate(last_id=Max("id"))
        .values_list("last_id", flat=True)
    )
    ticks = {(t.location_name, t.name): t for t in DaemonTick.objects.filter(pk__in=list(latest))}
    return [
        Instigator(spec, states[spec.key], ticks.get((spec.location_name, spec.name)), now)
        for spec in specs
    ]


def get_instigator(
    *, deployment: Deployment, kind: str, name: str, location_name: str | None = None
) -> Instigator:
    spec = find_spec(deployment=deployment, kind=kind, name=name, location_name=location_name)
    [instigator] = list_instigators(deployment=deployment, kind=kind, specs=[spec])
    return instigator


def ticks_of(
    *,
    deployment: Deployment,
    loop: str | None = None,
    name: str | None = None,
    status: str | None = None,
) -> QuerySet[DaemonTick]:
    ticks = DaemonTick.objects.filter(deployment=deployment)
    if loop:
        ticks = ticks.filter(loop=loop)
    if name:
        ticks = ticks.filter(name=name)
    if status:
        ticks = ticks.filter(status=status)
    return ticks


def get_tick(*, deployment: Deployment, tick_id: int) -> DaemonTick:
    tick = DaemonTick.objects.filter(deployment=deployment, pk=tick_id).first()
    if tick is None:
        raise NotFound(f"no tick {tick_id} in deployment {deployment.name!r}")
    return tick
