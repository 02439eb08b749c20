"""Audit actions of the backfills app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

BACKFILL_LAUNCH = declare("backfill.launch", "a backfill was requested")
BACKFILL_CANCEL = declare("backfill.cancel", "a backfill was canceled")
BACKFILL_RESUME = declare("backfill.resume", "a canceled backfill was resumed")
BACKFILL_RETRY_FAILED = declare(
    "backfill.retry_failed", "a backfill's failed runs (and what they blocked) were requested again"
)
