"""Load a code location in its own subprocess and bring back its snapshot or its traceback.

The location runs under its own interpreter (its virtualenv), working directory and env,
so a module that fails to import, calls `sys.exit`, or crashes the interpreter produces a
`LocationLoad` with status error; the agent itself never imports user code.

The child needs only the `assay` SDK (not the agent) in its environment. It writes its
answer to a file rather than stdout, because user modules may print anything at import.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent import run_worker
from agent.config import CodeLocationConfig

MAX_ERROR_BYTES = 64 * 1024
DEFAULT_TIMEOUT_SECONDS = 120.0
_STDERR_TAIL_BYTES = 8 * 1024

# Runs the worker file as __main__ without putting agent/ on the child's sys.path (its
# modules would shadow user modules named config, cli, ...); needs no agent install.
WORKER_BOOTSTRAP = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)


def worker_argv(*args: str) -> list[str]:
    """The interpreter arguments that run ``run_worker.py`` in one of its modes."""
    return ["-c", WORKER_BOOTSTRAP, run_worker.__file__, *args]


class LocationStatus(StrEnum):
    OK = "ok"
    ERROR = "error"


@dataclass(frozen=True)
class LocationLoad:
    """The outcome of loading one location: a snapshot (ok) or a message for a person."""

    location_name: str
    status: LocationStatus
    snapshot_json: bytes = b""
    snapshot_id: str = ""
    snapshot_version: int = 0
    sdk_version: str = ""
    error: str = ""


@dataclass(frozen=True)
class ChildOutcome:
    """How a child in the location's interpreter ended: its answer, else why there is none."""

    result: dict[str, Any] | None
    returncode: int | None = None
    timed_out: bool = False
    output_tail: str = ""  # the end of its stderr, when it died without answering
    start_error: str = ""  # why the interpreter could not start at all


def run_in_location(
    location: CodeLocationConfig,
    argv: Sequence[str],
    *,
    timeout: float,
    hidden_env_vars: Collection[str] = (),
    request: Mapping[str, Any] | None = None,
) -> ChildOutcome:
    """Run ``location.python *argv [request.json] result.json`` in the location's working
    directory and environment (without ``hidden_env_vars``), and read back the JSON the
    child wrote to ``result.json``; never raises for anything the child does.

    The child's stdout is discarded (user code may print customer data; it stays on the
    agent's side) and its stderr kept for a child that dies without answering."""
    with tempfile.TemporaryDirectory(prefix="assay-location-") as scratch:
        paths = []
        if request is not None:
            paths.append(Path(scratch) / "request.json")
            paths[0].write_text(json.dumps(request), encoding="utf-8")
        result_path = Path(scratch) / "result.json"
        try:
            process = subprocess.run(
                [str(location.python), *argv, *map(str, paths), str(result_path)],
                cwd=location.working_directory,
                env=location_environment(location.env, hidden=hidden_env_vars),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return ChildOutcome(None, timed_out=True)
        except OSError as exc:
            return ChildOutcome(None, start_error=f"cannot start {location.python}: {exc.strerror}")
        if result_path.exists():
            return ChildOutcome(json.loads(result_path.read_text(encoding="utf-8")))
    tail = process.stderr[-_STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()
    return ChildOutcome(None, returncode=process.returncode, output_tail=tail)


def ended(returncode: int | None) -> str:
    """How a child that did not answer ended, for a person."""
    if returncode is None:
        return "ended without answering"
    if returncode < 0:
        return f"was killed by signal {-returncode}"
    return f"exited with code {returncode}"


def load_location(
    location: CodeLocationConfig,
    *,
    hidden_env_vars: Collection[str] = (),
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> LocationLoad:
    """Load `location` in a subprocess; never raises for anything the user's code does.

    `hidden_env_vars` are removed from the child's environment: the agent's own token
    variable must never be readable by user code.
    """
    kind, target = (
        ("module", location.module) if location.module is not None else ("file", str(location.file))
    )
    child = run_in_location(
        location,
        worker_argv("load", kind, str(target)),
        timeout=timeout,
        hidden_env_vars=hidden_env_vars,
    )
    if child.timed_out:
        return _error(location, f"loading {location.target} took longer than {timeout:g} s")
    if child.start_error:
        return _error(location, f"{child.start_error} (for {location.target})")
    result = child.result
    if result is None:
        how = ended(child.returncode)
        message = f"the process loading {location.target} {how} before reporting a result"
        tail = child.output_tail
        return _error(location, f"{message}; its last output:\n{tail}" if tail else message)
    if result["status"] == LocationStatus.OK:
        return LocationLoad(
            location_name=location.name,
            status=LocationStatus.OK,
            snapshot_json=result["snapshot_json"].encode(),
            snapshot_id=result["snapshot_id"],
            snapshot_version=int(result["snapshot_version"]),
            sdk_version=result.get("sdk_version", ""),
        )
    return _error(location, result["error"], sdk_version=result.get("sdk_version", ""))


def location_environment(
    extra: Mapping[str, str], *, hidden: Collection[str] = ()
) -> dict[str, str]:
    """The agent's environment without `hidden` names, plus the location's own variables."""
    env = {name: value for name, value in os.environ.items() if name not in hidden}
    env.update(extra)
    return env


def load_error(location: CodeLocationConfig, message: str) -> LocationLoad:
    """A failed load for a reason found before any process started (a git source)."""
    return _error(location, message)


def _error(location: CodeLocationConfig, message: str, *, sdk_version: str = "") -> LocationLoad:
    return LocationLoad(
        location_name=location.name,
        status=LocationStatus.ERROR,
        error=_cap(f"code location '{location.name}' failed to load: {message}"),
        sdk_version=sdk_version,
    )


def _cap(text: str) -> str:
    """At most MAX_ERROR_BYTES of UTF-8; a truncated error says so (keeps the end: the cause)."""
    data = text.encode("utf-8")
    if len(data) <= MAX_ERROR_BYTES:
        return text
    marker = "\n[... truncated by the agent ...]\n"
    keep = MAX_ERROR_BYTES - len(marker.encode())
    head = data[: keep // 4].decode("utf-8", "ignore")
    tail = data[-(keep - keep // 4) :].decode("utf-8", "ignore")
    return f"{head}{marker}{tail}"
