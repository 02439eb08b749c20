"""Typed errors of the backfills app."""

from control_plane.core.errors import Conflict, InvalidInput, NotFound


class InvalidBackfillRequest(InvalidInput):
    """The selection, partitions, concurrency or tags of a backfill cannot be planned."""


class BackfillNotFound(NotFound):
    pass


class BackfillStateConflict(Conflict):
    """The change does not apply to the backfill as it stands (cancel a finished one...)."""
