"""Evaluate a sensor or schedule function in its code location's own interpreter.

Like a run, the user's function executes on the customer's side (it may read the
customer's systems) in a subprocess of the location's Python, so a function that hangs,
crashes or calls ``sys.exit`` fails only its tick. Only the decision crosses back: run
requests, a skip reason, a cursor and dynamic partition changes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from agent.config import CodeLocationConfig
from agent.launcher import WarmProcessError
from agent.location_process import ChildOutcome, ended, run_in_location, worker_argv

log = logging.getLogger(__name__)

MAX_RUN_REQUESTS = 1000
MAX_CURSOR_BYTES = 64 * 1024
MAX_ERROR_BYTES = 64 * 1024


@dataclass(frozen=True)
class TickRequest:
    """What the control plane asked to evaluate (`EvaluateTick`)."""

    request_id: str
    deployment: str
    location_name: str
    kind: str  # "sensor" | "schedule"
    name: str
    evaluation_time: datetime
    last_evaluation_time: datetime | None = None
    cursor: str | None = None
    timeout_seconds: float = 60.0


@dataclass(frozen=True)
class TickOutcome:
    """The answer (`TickResult`): run requests etc., or an error for a person."""

    request_id: str
    error: str = ""
    run_requests: tuple[dict[str, Any], ...] = ()
    skip_reason: str = ""
    cursor: str | None = None
    dynamic_partitions: tuple[dict[str, Any], ...] = field(default_factory=tuple)


# Evaluates a tick from the location's warm process (the launcher's), or raises.
WarmEvaluator = Callable[[CodeLocationConfig, dict[str, Any], float], ChildOutcome]


def evaluate_tick(
    location: CodeLocationConfig,
    request: TickRequest,
    *,
    hidden_env_vars: Collection[str] = (),
    warm: WarmEvaluator | None = None,
) -> TickOutcome:
    """Evaluate the tick in the location's interpreter; never raises for anything the
    user's code does. With ``warm``, a child forked from the location's warm process does
    it in milliseconds; without one (or when that cannot start) a fresh interpreter does."""
    payload = {
        "op": "tick",
        "request_id": request.request_id,
        "module": location.module,
        "file": str(location.file) if location.file is not None else None,
        "kind": request.kind,
        "name": request.name,
        "evaluation_time": request.evaluation_time.timestamp(),
        "last_evaluation_time": (
            request.last_evaluation_time.timestamp() if request.last_evaluation_time else 0
        ),
        "cursor": request.cursor,
    }
    if warm is not None:
        try:
            return _outcome(location, request, warm(location, payload, request.timeout_seconds))
        except WarmProcessError as exc:
            log.warning("code location %s: evaluating cold: %s", location.name, exc)
    cold = run_in_location(
        location,
        worker_argv("tick"),
        timeout=request.timeout_seconds,
        hidden_env_vars=hidden_env_vars,
        request=payload,
    )
    return _outcome(location, request, cold)


def _outcome(
    location: CodeLocationConfig, request: TickRequest, child: ChildOutcome
) -> TickOutcome:
    what = f"{request.kind} '{request.name}'"
    if child.timed_out:
        return _failed(request, f"{what} timed out after {request.timeout_seconds:g} s")
    if child.start_error:
        return _failed(request, f"{what} failed: {child.start_error}")
    result = child.result
    if result is None:
        message = f"the process evaluating {what} {ended(child.returncode)}"
        tail = child.output_tail
        return _failed(request, f"{message}:\n{tail}" if tail else message)
    if result.get("error"):
        return _failed(request, f"{what} failed: {result['error']}")
    for error in result.get("teardown_errors") or ():
        # The decision stands (failing the tick would only repeat it); say so where the
        # agent's operator looks.
        log.warning("code location %s: %s: %s", location.name, what, error)
    run_requests = tuple(result.get("run_requests") or ())
    if len(run_requests) > MAX_RUN_REQUESTS:
        return _failed(
            request,
            f"{what} requested {len(run_requests)} runs in one tick; the limit is "
            f"{MAX_RUN_REQUESTS} (use a cursor to spread them over ticks)",
        )
    cursor = result["cursor"] if result.get("has_cursor") else None
    if cursor is not None and len(cursor.encode()) > MAX_CURSOR_BYTES:
        return _failed(
            request, f"{what} set a cursor of {len(cursor.encode())} bytes; the limit is 64 KiB"
        )
    return TickOutcome(
        request_id=request.request_id,
        run_requests=run_requests,
        skip_reason=result.get("skip_reason") or "",
        cursor=cursor,
        dynamic_partitions=tuple(result.get("dynamic_partitions") or ()),
    )


def _failed(request: TickRequest, message: str) -> TickOutcome:
    data = message.encode()
    if len(data) > MAX_ERROR_BYTES:
        message = data[-MAX_ERROR_BYTES:].decode("utf-8", "ignore")
    return TickOutcome(request_id=request.request_id, error=message)
