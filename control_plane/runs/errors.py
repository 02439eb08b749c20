"""Typed errors of the runs app."""

from control_plane.core.errors import Conflict, InvalidInput, NotFound


class InvalidRunRequest(InvalidInput):
    """A launch request names assets, partitions or tags that cannot be run."""


class RunNotFound(NotFound):
    pass


class RunAlreadyFinished(Conflict):
    """The run is in a terminal status and cannot change any more."""
