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
