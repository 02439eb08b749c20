"""When each part of `assay dev` is ready, asked of the part itself rather than read from a log.

The web API answers its own `/readyz` (database reachable, migrations applied); the gRPC
endpoint completes a channel handshake (grpc's `channel_ready_future`); the agent is ready when
the control plane lists it among the live agents serving the code location, heartbeating since
this agent was started (not a stale session of an earlier one), and the catalog lists the
location's assets.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime

import grpc

from launcher.credentials import ApiError, request
from launcher.supervisor import Child, ChildFailed, Supervisor

POLL_S = 0.1


def wait_until(
    ready: Callable[[], bool], *, supervisor: Supervisor, child: Child, what: str, timeout: float
) -> None:
    """Poll `ready` until it holds, for at most `timeout` s; `ChildFailed` for `child` when it
    does not, or as soon as any supervised child exits."""
    deadline = time.monotonic() + timeout
    while True:
        supervisor.check()
        if ready():
            return
        if time.monotonic() > deadline:
            raise ChildFailed(child, f"did not {what} within {timeout:.0f} s")
        time.sleep(POLL_S)


def web_ready(base_url: str) -> Callable[[], bool]:
    """`GET /readyz` answers 200."""

    def ready() -> bool:
        try:
            with urllib.request.urlopen(f"{base_url}/readyz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    return ready


def grpc_ready(address: str) -> Callable[[], bool]:
    """A plaintext channel to `address` becomes READY."""

    def ready() -> bool:
        with grpc.insecure_channel(address) as channel:
            try:
                grpc.channel_ready_future(channel).result(timeout=1)
            except grpc.FutureTimeoutError:
                return False
        return True

    return ready


def location_served(
    *, location_api: str, assets_api: str, token: str, asset_keys: frozenset[str], since: datetime
) -> Callable[[], bool]:
    """A live agent that heartbeated after `since` serves the location, which loaded, and
    the catalog lists its assets (on a first start they arrive with the agent's snapshot)."""

    def ready() -> bool:
        try:
            status = request("GET", f"{location_api}/status/", token)
        except ApiError as exc:
            if exc.status == 404:  # a first start: the agent has not registered it yet
                return False
            raise
        fresh = [
            agent
            for agent in status["agents"]
            if datetime.fromisoformat(agent["last_heartbeat_at"]) >= since
        ]
        if status["status"] != "ok" or not fresh:
            return False
        listed = {asset["key"] for asset in request("GET", assets_api, token)["results"]}
        return listed >= asset_keys

    return ready
