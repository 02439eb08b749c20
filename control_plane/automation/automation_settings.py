"""Turning declarative automation on and off for a deployment (Editor role, audited).

Off means the daemon evaluates nothing for the deployment and queues no run. Status
changes keep queueing meanwhile, so the first tick after it is turned back on sees
everything that happened while it was off as new, exactly as if ticks had kept running.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.automation.audit_actions import AUTOMATION_UPDATE
from control_plane.automation.declarative import ensure_state
from control_plane.automation.models import AutomationState, DaemonTick
from control_plane.core.context import TenantContext
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


@dataclass(frozen=True)
class AutomationSettings:
    """What the API shows: on/off and the latest tick."""

    enabled: bool
    last_tick: DaemonTick | None


def automation_settings(*, deployment: Deployment) -> AutomationSettings:
    state = AutomationState.objects.filter(deployment=deployment).first()
    last_tick = (
        DaemonTick.objects.filter(deployment=deployment, loop=DaemonTick.Loop.AUTOMATION)
        .order_by("-id")
        .first()
    )
    return AutomationSettings(enabled=state is None or state.enabled, last_tick=last_tick)


def update_automation(
    *, ctx: TenantContext, deployment: Deployment, enabled: bool
) -> AutomationSettings:
    """Turn the deployment's automation on or off; audited with the before and after."""
    authorize(ctx.principal, Action.EDIT_AUTOMATION, deployment)
    with transaction.atomic():
        ensure_state(deployment=deployment)
        state = AutomationState.objects.select_for_update().get(deployment=deployment)
        before = {"enabled": state.enabled}
        state.enabled = enabled
        state.updated_at = timezone.now()
        state.save(update_fields=["enabled", "updated_at"])
        record_for(
            ctx,
            action=AUTOMATION_UPDATE,
            target=("automation", state.pk, deployment.name),
            before=before,
            after={"enabled": enabled},
        )
    return automation_settings(deployment=deployment)
