"""Typed errors of the backfills app."""

from control_plane.core.errors import Conflict, InvalidInput, NotFound


class InvalidBackfillRequest(InvalidInput):
    """The selection, partitions, concurrency or tags of a backfill cannot be planned."""


class BackfillNotFound(NotFound):
    pass


class BackfillStateConflict(Conflict):
    """The change does not apply to the backfill as it stands (cancel a finished one...)."""


class UnreadableBackfill(BackfillStateConflict):
    """The stored plan or progress is not one this version reads: the daemon cannot advance
    the backfill and it cannot be resumed or retried, only canceled."""
