"""Typed errors of the alerts app."""

from control_plane.core.errors import InvalidInput, NotFound


class InvalidAlertPolicy(InvalidInput):
    """A policy's kinds, selection, tags or channels cannot be used."""


class AlertPolicyNotFound(NotFound):
    pass
