"""The automation app's objects for the endpoint walks (tests/control_plane/api/endpoints.py)."""

from __future__ import annotations

from typing import Any

from control_plane.automation.models import DaemonTick
from control_plane.automation.ticks import claim_tick


def build(victim) -> dict[str, Any]:
    tick = claim_tick(
        deployment=victim.deployment,
        loop=DaemonTick.Loop.SCHEDULE,
        name="nightly_orders",
        location_name=victim.location.name,
        tick_key="2024-01-01T02:00:00+00:00",
    )
    return {
        "schedule_name": "nightly_orders",
        "sensor_name": "new_order_files",
        "tick_id": tick.pk,
    }


MUTATIONS = {
    ("schedule-detail", "patch"): ({"status": "running"}, "schedule.update"),
    ("sensor-detail", "patch"): ({"status": "running"}, "sensor.update"),
}


# Declarative automation (appended): an automation tick with one evaluation, so a leak of
# the victim's explanations would show in the walks.
_build_instigators = build


def build(victim) -> dict[str, Any]:
    from datetime import UTC, datetime

    from control_plane.automation.models import AutomationEvaluation

    values = _build_instigators(victim)
    tick = claim_tick(
        deployment=victim.deployment,
        loop=DaemonTick.Loop.AUTOMATION,
        tick_key="2024-01-01T02:00:30+00:00",
    )
    AutomationEvaluation.objects.create(
        organization=victim.ctx.organization,
        deployment=victim.deployment,
        tick=tick,
        asset_key="raw_orders",
        evaluation_time=datetime(2024, 1, 1, 2, 0, 30, tzinfo=UTC),
        explanation={"condition": "eager()", "true": 0, "candidates": 1, "evaluated": True},
    )
    return values


MUTATIONS[("automation-settings", "patch")] = ({"enabled": False}, "automation.update")
