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
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from agent.config import CodeLocationConfig

MAX_ERROR_BYTES = 64 * 1024
DEFAULT_TIMEOUT_SECONDS = 120.0
_STDERR_TAIL_BYTES = 8 * 1024

# Runs in the location's interpreter. Stdlib only until the SDK import, which is guarded:
# every outcome, including a missing SDK or a user module calling sys.exit(), becomes a
# result file.
_BOOTSTRAP = """
import json, os, sys, traceback

result_path, kind, target = sys.argv[1], sys.argv[2], sys.argv[3]

def answer(result):
    with open(result_path + ".tmp", "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    os.replace(result_path + ".tmp", result_path)

try:
    import assay
    from assay.errors import AssayError
    from assay.loading import load_definitions
    from assay.snapshot import build_snapshot
except BaseException:
    answer({"status": "error", "error": "the assay SDK cannot be imported by this "
            "location's Python (" + sys.executable + "); install assay in its "
            "environment:\\n" + traceback.format_exc()})
    raise SystemExit(0)

try:
    if kind == "module":
        definitions = load_definitions(module=target)
    else:
        definitions = load_definitions(file=target)
    snapshot = build_snapshot(definitions)
    answer({"status": "ok", "snapshot_json": snapshot.to_json(),
            "snapshot_id": snapshot.snapshot_id, "snapshot_version": snapshot.version,
            "sdk_version": getattr(assay, "__version__", "")})
except AssayError as exc:
    answer({"status": "error", "error": str(exc),
            "sdk_version": getattr(assay, "__version__", "")})
except BaseException:
    answer({"status": "error", "error": traceback.format_exc(),
            "sdk_version": getattr(assay, "__version__", "")})
"""


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
    with tempfile.TemporaryDirectory(prefix="assay-location-") as scratch:
        result_path = Path(scratch) / "result.json"
        try:
            process = subprocess.run(
                [str(location.python), "-c", _BOOTSTRAP, str(result_path), kind, str(target)],
                cwd=location.working_directory,
                env=location_environment(location.env, hidden=hidden_env_vars),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,  # user output stays on the agent's side
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return _error(location, f"loading {location.target} took longer than {timeout:g} s")
        except OSError as exc:
            return _error(
                location, f"cannot start {location.python} for {location.target}: {exc.strerror}"
            )
        if not result_path.exists():
            return _error(location, _died_message(location, process))
        result = json.loads(result_path.read_text(encoding="utf-8"))
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


def _died_message(location: CodeLocationConfig, process: subprocess.CompletedProcess) -> str:
    code = process.returncode
    how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
    stderr = process.stderr[-_STDERR_TAIL_BYTES:].decode("utf-8", "replace").strip()
    message = f"the process loading {location.target} {how} before reporting a result"
    return f"{message}; its last output:\n{stderr}" if stderr else message


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
