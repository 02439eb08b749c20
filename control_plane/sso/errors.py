"""Errors of the SSO app (answered 4xx with their message)."""

from __future__ import annotations

from control_plane.core.errors import NotFound  # noqa: F401  (re-exported for views)


class SamlRefused(Exception):
    """A SAML response that does not sign anyone in; ``message`` is safe to show."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidSamlConfig(ValueError):
    """Settings that cannot describe an identity provider."""
