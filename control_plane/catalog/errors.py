"""Typed errors of the catalog."""

from control_plane.core.errors import InvalidInput, NotFound


class InvalidSnapshot(InvalidInput):
    """A location snapshot could not be read (bad JSON, unknown version, id mismatch)."""


class AssetNotFound(NotFound):
    pass


class LocationNotLoaded(InvalidInput):
    """The code location has no loaded definitions yet (no agent has sent a snapshot)."""


class InvalidSearch(InvalidInput):
    """A catalog search query or page that cannot be answered (no words, bad limit)."""

    def __init__(self, message: str, *, field: str):
        super().__init__(message, fields={field: [message]})
