"""Typed errors of the tenancy app."""

from control_plane.core.errors import Conflict, Forbidden, InvalidInput, NotFound


class NotAllowed(Forbidden):
    """The principal's role does not allow this action here."""


class OrganizationNotFound(NotFound):
    pass


class ObjectNotFound(NotFound):
    pass


class DuplicateName(Conflict):
    pass


class AlreadyInTeam(Conflict):
    """The member is already in the team."""


class ProtectedObject(Conflict):
    """The object cannot be changed this way (e.g. deleting the prod deployment)."""


class InvalidGrant(InvalidInput):
    pass


class InvalidToken(Exception):
    """A presented token is malformed, unknown, revoked or expired (answered with 401)."""

    def __init__(self, message: str, *, token=None):
        super().__init__(message)
        self.token = token
