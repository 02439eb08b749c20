"""Typed errors every app raises; `core.api.errors` translates them to HTTP answers."""

from __future__ import annotations


class AssayError(Exception):
    """Base of the control plane's typed errors; the message is for a person."""

    status_code = 400

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class InvalidInput(AssayError):
    """Input was rejected; ``fields`` maps field names to messages."""

    status_code = 400

    def __init__(
        self, message: str = "Invalid input.", *, fields: dict[str, list[str]] | None = None
    ):
        super().__init__(message)
        self.fields = fields or {}


class NotFound(AssayError):
    """The object does not exist or belongs to another organization (never tell which)."""

    status_code = 404


class Forbidden(AssayError):
    """The principal is in the organization but its role does not allow the action."""

    status_code = 403


class Conflict(AssayError):
    """The change clashes with existing state (a duplicate name, the prod deployment...)."""

    status_code = 409


class TenancyContextMissing(RuntimeError):
    """A tenant-scoped query ran without an organization context: a bug, never user input."""
