"""Evaluate a sensor or schedule function in its code location's own interpreter.

Like a run, the user's function executes on the customer's side (it may read the
customer's systems) in a subprocess of the location's Python, so a function that hangs,
crashes or calls ``sys.exit`` fails only its tick. Only the decision crosses back: run
requests, a skip reason, a cursor and dynamic partition changes.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from agent.config import CodeLocationConfig
from agent.location_process import location_environment

MAX_RUN_REQUESTS = 1000
MAX_CURSOR_BYTES = 64 * 1024
MAX_ERROR_BYTES = 64 * 1024
_STDERR_TAIL_BYTES = 8 * 1024

# Runs in the location's interpreter; answers through a result file (user code may print).
_BOOTSTRAP = """
import json, os, sys, traceback
from datetime import datetime, timezone

request_path, result_path = sys.argv[1], sys.argv[2]

def answer(result):
    with open(result_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(result_path + ".tmp", result_path)

try:
    with open(request_path, encoding="utf-8") as handle:
        request = json.load(handle)
    from assay.definitions.schedules import evaluate_schedule
    from assay.definitions.sensors import evaluate_sensor
    from assay.execution.run_resources import RunResources
    from assay.loading import load_definitions
except BaseException:
    answer({"error": "the assay SDK cannot be imported by " + sys.executable + ":\\n"
            + traceback.format_exc()})
    raise SystemExit(0)

def at(seconds):
    return datetime.fromtimestamp(seconds, tz=timezone.utc) if seconds else None

try:
    if request["module"]:
        defs = load_definitions(module=request["module"])
    else:
        defs = load_definitions(file=request["file"])
    kind, name = request["kind"], request["name"]
    pool = defs.sensors if kind == "sensor" else defs.schedules
    found = [item for item in pool if item.name == name]
    if not found:
        answer({"error": f"code location has no {kind} named {name!r}"})
        raise SystemExit(0)
    resources = RunResources(defs.resources, defs.resources, "tick-" + request["request_id"])
    try:
        opened = resources.open()
        if kind == "sensor":
            result = evaluate_sensor(
                found[0], request["cursor"], evaluation_time=at(request["evaluation_time"]),
                last_evaluation_time=at(request["last_evaluation_time"]), resources=opened)
        else:
            result = evaluate_schedule(
                found[0], scheduled_execution_time=at(request["evaluation_time"]),
                resources=opened)
    finally:
        resources.close()
    answer({
        "run_requests": [
            {"run_key": r.run_key or "", "partition_key": r.partition_key or "",
             "tags": {str(k): str(v) for k, v in dict(r.tags).items()},
             "asset_selection": ",".join(
                 k if isinstance(k, str) else k.to_user_string() for k in r.asset_selection or ())}
            for r in result.run_requests
        ],
        "skip_reason": result.skip_reason or "",
        "has_cursor": kind == "sensor" and result.cursor is not None,
        "cursor": result.cursor if kind == "sensor" and result.cursor is not None else "",
        "dynamic_partitions": [
            {"name": d.partitions_def_name,
             "add": list(d.partition_keys) if type(d).__name__.startswith("Add") else [],
             "delete": list(d.partition_keys) if type(d).__name__.startswith("Delete") else []}
            for d in result.dynamic_partitions_requests
        ],
    })
except SystemExit:
    raise
except BaseException as exc:
    from assay.errors import AssayError
    detail = str(exc) if isinstance(exc, AssayError) else ""
    answer({"error": (detail + "\\n" if detail else "") + traceback.format_exc()})
"""


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


def evaluate_tick(
    location: CodeLocationConfig, request: TickRequest, *, hidden_env_vars: Collection[str] = ()
) -> TickOutcome:
    """Run the tick in a subprocess; never raises for anything the user's code does."""
    what = f"{request.kind} '{request.name}'"
    payload = {
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
    with tempfile.TemporaryDirectory(prefix="assay-tick-") as scratch:
        request_path = Path(scratch) / "request.json"
        result_path = Path(scratch) / "result.json"
        request_path.write_text(json.dumps(payload), encoding="utf-8")
        try:
            process = subprocess.run(
                [str(location.python), "-c", _BOOTSTRAP, str(request_path), str(result_path)],
                cwd=location.working_directory,
                env=location_environment(location.env, hidden=hidden_env_vars),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # user output stays on the agent's side
                stderr=subprocess.PIPE,
                timeout=request.timeout_seconds,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _failed(request, f"{what} timed out after {request.timeout_seconds:g} s")
        except OSError as exc:
            return _failed(request, f"cannot start {location.python}: {exc.strerror}")
        if not result_path.exists():
            code = process.returncode
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            tail = process.stderr[-_STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()
            return _failed(
                request, f"the process evaluating {what} {how}" + (f":\n{tail}" if tail else "")
            )
        result = json.loads(result_path.read_text(encoding="utf-8"))
    return _outcome(request, result)


def _outcome(request: TickRequest, result: dict[str, Any]) -> TickOutcome:
    what = f"{request.kind} '{request.name}'"
    if result.get("error"):
        return _failed(request, f"{what} failed: {result['error']}")
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
