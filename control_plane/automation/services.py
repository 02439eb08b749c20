"""Every change a person makes to schedules and sensors: start, stop, catch-up, cursor."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.automation.audit_actions import SCHEDULE_UPDATE, SENSOR_UPDATE
from control_plane.automation.errors import InvalidInstigatorChange
from control_plane.automation.instigators import effective_status, ensure_states
from control_plane.automation.models import InstigatorKind, InstigatorState
from control_plane.automation.queries import find_spec
from control_plane.core.context import TenantContext
from control_plane.tenancy import queries as tenancy_queries
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

UNSET: Any = object()
MAX_CURSOR_BYTES = 64 * 1024


def update_instigator(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    kind: str,
    name: str,
    location_name: str | None = None,
    status: str | None = None,
    catchup: str | None = None,
    cursor: str | None = UNSET,
) -> InstigatorState:
    """Start or stop a schedule or sensor, set a schedule's catch-up, or set or reset
    (``cursor=None``) a sensor's cursor. Editor role on the code location; audited.

    Starting a schedule counts ticks from now: it does not catch up on the time it was
    stopped. Starting a sensor evaluates it on the daemon's next pass.
    """
    spec = find_spec(deployment=deployment, kind=kind, name=name, location_name=location_name)
    location = tenancy_queries.get_code_location(deployment=deployment, name=spec.location_name)
    is_schedule = kind == InstigatorKind.SCHEDULE
    authorize(ctx.principal, Action.EDIT_SCHEDULE if is_schedule else Action.EDIT_SENSOR, location)
    errors: dict[str, list[str]] = {}
    if status is not None and status not in InstigatorState.Status.values:
        errors["status"] = ["Choose running or stopped."]
    if catchup is not None and (not is_schedule or catchup not in InstigatorState.Catchup.values):
        errors["catchup"] = (
            ["Choose latest or all."] if is_schedule else ["Only schedules catch up."]
        )
    if cursor is not UNSET:
        if is_schedule:
            errors["cursor"] = ["Only sensors have a cursor."]
        elif cursor is not None and len(cursor.encode()) > MAX_CURSOR_BYTES:
            errors["cursor"] = ["At most 64 KiB."]
    if status is None and catchup is None and cursor is UNSET:
        errors["status"] = ["Give status, catchup or cursor."]
    if errors:
        raise InvalidInstigatorChange("Invalid change.", fields=errors)
    now = timezone.now()
    with transaction.atomic():
        ensure_states(deployment=deployment, specs=[spec], now=now)
        state = InstigatorState.objects.select_for_update().get(
            deployment=deployment, kind=kind, location_name=spec.location_name, name=name
        )
        before = _describe(state, spec)
        was_running = effective_status(state, spec) == InstigatorState.Status.RUNNING
        if status is not None:
            state.status = status
            if status == InstigatorState.Status.RUNNING and not was_running:
                if is_schedule:
                    state.last_tick_time = now
                else:
                    state.next_evaluation_at = None
        if catchup is not None:
            state.catchup = catchup
        if cursor is not UNSET:
            state.cursor = cursor
        state.updated_at = now
        state.save()
        after = _describe(state, spec)
        record_for(
            ctx,
            action=SCHEDULE_UPDATE if is_schedule else SENSOR_UPDATE,
            target=(kind, state.pk, f"{spec.location_name}/{name}"),
            before=before,
            after=after,
        )
    return state


def _describe(state: InstigatorState, spec) -> dict[str, Any]:
    data: dict[str, Any] = {"status": effective_status(state, spec)}
    if spec.kind == InstigatorKind.SCHEDULE:
        data["catchup"] = state.catchup
    else:
        data["cursor"] = state.cursor
    return data
