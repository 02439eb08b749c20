"""The backfills app's objects for the endpoint walks (tests/control_plane/api/endpoints.py)."""

from __future__ import annotations

from typing import Any

from control_plane.backfills import services
from control_plane.backfills.models import Backfill
from control_plane.backfills.planning import BackfillRequest
from control_plane.backfills.stored_state import StoredBackfill


def build(victim) -> dict[str, Any]:
    """A requested backfill of three days with one failed and one canceled day, so cancel,
    resume and retry-failed each have something to do (a state a cancel, then a retry of
    the failed days, then another failure, leaves)."""
    backfill = services.launch_backfill(
        ctx=victim.ctx,
        deployment=victim.deployment,
        request=BackfillRequest(
            selection="daily_orders", partition_range=("2024-01-01", "2024-01-03")
        ),
    )
    stored = StoredBackfill.from_json(backfill.plan, backfill.progress)
    stored.state.mark_in_progress(0)
    stored.state.mark_failed(0, "the file for the 1st is corrupt")
    stored.state.mark_canceled(1, "canceled by a person")
    Backfill.objects.filter(pk=backfill.pk).update(progress=stored.progress_json())
    return {"backfill_id": backfill.pk}


MUTATIONS = {
    ("backfill-list", "post"): (
        {
            "location": "{location}",
            "selection": "daily_orders",
            "partition_range": {"start": "2024-01-10", "end": "2024-01-12"},
        },
        "backfill.launch",
    ),
    ("backfill-cancel", "post"): (None, "backfill.cancel"),
    ("backfill-resume", "post"): (None, "backfill.resume"),
    ("backfill-retry-failed", "post"): (None, "backfill.retry_failed"),
}
