"""Typed errors of the automation app."""

from control_plane.core.errors import Conflict, InvalidInput, NotFound


class InstigatorNotFound(NotFound):
    """No current code location defines a schedule or sensor of that name."""


class AmbiguousInstigator(Conflict):
    """Two code locations define a schedule or sensor of that name; say which location."""


class InvalidInstigatorChange(InvalidInput):
    """A change to a schedule or sensor that makes no sense (bad status, catch-up...)."""
