"""Typed errors of the branches app (``core.api.errors`` turns them into 4xx answers)."""

from control_plane.core.errors import Conflict, InvalidInput, NotFound


class BranchNotFound(NotFound):
    pass


class BranchClosed(Conflict):
    pass


class InvalidBranchRequest(InvalidInput):
    pass
