"""Typed errors of the agent endpoint; the servicer maps each to one gRPC status code."""

from control_plane.core.errors import AssayError, Conflict


class AgentUnauthenticated(AssayError):
    """Missing, malformed, unknown, revoked or expired token, or not an agent token."""


class AgentPermissionDenied(AssayError):
    """The token does not cover a deployment the agent named."""


class InvalidAgentMessage(AssayError):
    """A message that breaks the protocol (no case set, a second hello, bad fields)."""


class UnsupportedProtocol(AssayError):
    """Hello.protocol_version is not one this control plane speaks."""


class NoAgentAvailable(Conflict):
    """No connected agent serves the code location (to evaluate a tick, to reload it)."""
