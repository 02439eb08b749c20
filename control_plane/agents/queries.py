"""Reads about what agents serve: a code location's load status and who serves it."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from django.utils import timezone

from control_plane.catalog.models import LocationSnapshot
from control_plane.runs.queue import live_sessions
from control_plane.tenancy.models import CodeLocation


def location_status(*, location: CodeLocation, now: datetime | None = None) -> dict[str, Any]:
    """Whether the location loaded (with the traceback when not), what it defines, and
    which live agents serve it: what a person checks after deploying new code."""
    snapshot = (
        LocationSnapshot.objects.filter(code_location=location, is_current=True)
        .only("status", "error", "snapshot_id", "sdk_version", "agent_id", "received_at")
        .first()
    )
    serving = [
        {
            "agent_id": s.agent_id,
            "agent_version": s.agent_version,
            "last_heartbeat_at": s.last_heartbeat_at,
        }
        for s in live_sessions(now=now or timezone.now())
        if s.serves(deployment_id=location.deployment_id, location_name=location.name)
    ]
    if snapshot is None:
        return {"status": "not_loaded", "error": "", "agents": serving, "counts": None}
    counts = None
    if snapshot.status == LocationSnapshot.Status.OK:
        text = LocationSnapshot.objects.values_list("snapshot_json", flat=True).get(pk=snapshot.pk)
        data = json.loads(text)
        counts = {
            "assets": len(data.get("assets") or ()),
            "checks": len(data.get("checks") or ()),
            "schedules": len(data.get("schedules") or ()),
            "sensors": len(data.get("sensors") or ()),
        }
    return {
        "status": snapshot.status,
        "error": snapshot.error,
        "snapshot_id": snapshot.snapshot_id,
        "sdk_version": snapshot.sdk_version,
        "loaded_by_agent": snapshot.agent_id,
        "loaded_at": snapshot.received_at,
        "counts": counts,
        "agents": serving,
    }
