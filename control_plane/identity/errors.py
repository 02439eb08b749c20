"""Typed errors of identity (the console shows their message)."""

from control_plane.core.errors import Conflict, NotFound


class LinkNotUsable(NotFound):
    """A one-time link that is unknown, used, revoked or expired (never tell which)."""


class AlreadyMember(Conflict):
    """The invited email already belongs to a member of this organization."""
