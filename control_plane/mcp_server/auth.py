"""Bearer-token authentication in front of the MCP transport.

The REST API's tokens, verified by ``tenancy.tokens`` (revoked, expired and agent tokens are
refused, each refusal recorded like the REST API's); the caller travels to the tools in a
context variable, the way the SDK's own auth middleware hands its token on.
"""

from __future__ import annotations

import contextvars
import json
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
from django.db import close_old_connections

from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal


@dataclass(frozen=True)
class Caller:
    """Who called, from where: what the audit log records of a REST client too."""

    principal: Principal
    ip: str | None
    user_agent: str


_caller: contextvars.ContextVar[Caller | None] = contextvars.ContextVar(
    "assay_mcp_caller", default=None
)


def current_caller() -> Caller:
    caller = _caller.get()
    if caller is None:  # the middleware runs before every call; this is a wiring bug
        raise RuntimeError("MCP tool called without an authenticated caller")
    return caller


class AuthenticationError(Exception):
    pass


def _client(scope: dict[str, Any]) -> tuple[str | None, str]:
    """The caller's address (by the REST API's rule, proxy-aware) and user agent."""
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
    peer = scope.get("client")
    meta = {
        "REMOTE_ADDR": peer[0] if peer else "",
        "HTTP_X_FORWARDED_FOR": headers.get("x-forwarded-for", ""),
    }
    return client_ip(SimpleNamespace(META=meta)), headers.get("user-agent", "")


def authenticate(scope: dict[str, Any]) -> Caller:
    """The user behind the request's ``Authorization: Bearer`` token (runs in a thread)."""
    from control_plane.tenancy import services, tokens
    from control_plane.tenancy.errors import InvalidToken

    headers = dict(scope["headers"])
    header = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise AuthenticationError("Use 'Authorization: Bearer <token>' with a user API token.")
    close_old_connections()
    try:
        token = tokens.verify(value.strip())
    except InvalidToken as error:
        ip, user_agent = _client(scope)
        services.record_rejected_token(error=error, ip=ip, user_agent=user_agent)
        raise AuthenticationError(f"Invalid token: {error}.") from None
    finally:
        close_old_connections()
    if token.kind != token.Kind.USER:
        raise AuthenticationError("Agent tokens are for the agent protocol only.")
    ip, user_agent = _client(scope)
    return Caller(Principal.for_user(token.user, token=token), ip, user_agent)


class BearerTokenMiddleware:
    """ASGI middleware: 401 JSON without a valid user token, else the caller is set."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            caller = await anyio.to_thread.run_sync(authenticate, scope)
        except AuthenticationError as error:
            body = json.dumps({"detail": str(error)}).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        reset = _caller.set(caller)
        try:
            await self.app(scope, receive, send)
        finally:
            _caller.reset(reset)
