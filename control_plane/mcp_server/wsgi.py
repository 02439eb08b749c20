"""Serve ``/mcp/`` from the control plane's WSGI process, beside Django.

The SDK's streamable HTTP transport is an ASGI app; ``a2wsgi`` runs it under waitress on one
event loop in a background thread, where the SDK's session manager runs for the life of the
process. The transport is stateless with JSON responses: every MCP message is one ordinary
POST answered in full, so a thread-per-request WSGI server and several control plane
processes behind a load balancer serve it without sticky sessions.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable
from typing import Any

PATH = "/mcp/"

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class McpBridge:
    """A WSGI app serving the MCP server; started on its first request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._app: WSGIApp | None = None

    def _start(self) -> WSGIApp:
        from a2wsgi import ASGIMiddleware
        from mcp.server.transport_security import TransportSecuritySettings

        from control_plane.mcp_server.auth import BearerTokenMiddleware
        from control_plane.mcp_server.tools import build_server

        server = build_server()
        asgi = server.streamable_http_app(
            streamable_http_path=PATH,
            stateless_http=True,
            json_response=True,
            # Every request carries a bearer token (no cookies), so a DNS-rebound page
            # cannot act as a user; Host checks stay with ALLOWED_HOSTS and the proxy.
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        loop = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="mcp-loop", daemon=True).start()
        ready = threading.Event()

        async def run_sessions() -> None:
            async with server.session_manager.run():
                ready.set()
                await asyncio.Event().wait()  # for the life of the process

        self._sessions = asyncio.run_coroutine_threadsafe(run_sessions(), loop)
        if not ready.wait(timeout=30):
            raise RuntimeError("the MCP session manager did not start")
        return ASGIMiddleware(BearerTokenMiddleware(asgi), loop=loop)

    def __call__(self, environ, start_response):
        if self._app is None:
            with self._lock:
                if self._app is None:
                    self._app = self._start()
        return self._app(environ, start_response)


def with_mcp(django_app: WSGIApp) -> WSGIApp:
    """``django_app`` with ``/mcp`` and everything below it answered by the MCP server."""
    bridge = McpBridge()

    def application(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == PATH.rstrip("/"):
            environ["PATH_INFO"] = PATH  # both spellings, no redirect for POST bodies
            path = PATH
        if path.startswith(PATH):
            return bridge(environ, start_response)
        return django_app(environ, start_response)

    return application
