"""Run launchers: how the agent executes a run it was told to launch.

`RunLauncher` is the interface (the `kubernetes` launcher comes later); `ProcessRunLauncher`
is the default: one subprocess per run under the location's Python, working directory and
env, running `agent/run_worker.py`. The worker streams structured events over a pipe (a
dedicated fd, never stdout); user code's raw stdout/stderr go to files in
`state_dir/runs/<run_id>/` and stay on this machine. Every event and status change is
appended to the outbox (via `record`) before anything is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from agent import run_worker
from agent.config import CodeLocationConfig
from agent.location_process import location_environment
from agent.outbox import OutboxEntry
from agent.run_records import RunStatus, event_entry, status_entry

log = logging.getLogger(__name__)

DEFAULT_TERMINATE_GRACE_SECONDS = 10.0
_READ_CHUNK = 256 * 1024
# Runs the worker file as __main__ without putting agent/ on the child's sys.path (its
# modules would shadow user modules named config, cli, ...); needs no agent install.
_BOOTSTRAP = (
    "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"
)

Record = Callable[[Sequence[OutboxEntry]], None]


@dataclass(frozen=True)
class RunRequest:
    """What the control plane asked for (`LaunchRun`), in the agent's terms."""

    run_id: str
    deployment: str
    location_name: str
    asset_selection: str = ""
    partition_key: str | None = None
    partition_range: tuple[str, str] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    snapshot_id: str = ""


class RunLauncher(Protocol):
    """Starts, stops and reports runs; every outcome goes through the outbox."""

    def launch(self, request: RunRequest, location: CodeLocationConfig) -> None:
        """Start the run (idempotent on run id: a known run only re-reports its status)."""

    def terminate(self, run_id: str, reason: str) -> bool:
        """Stop a running run (it ends CANCELED); False when it is not running here."""

    def running_run_ids(self) -> list[str]:
        """Ids of the runs whose processes are alive (for heartbeats)."""

    def wait(self, timeout: float) -> bool:
        """Wait until no run is executing; False when some still are after `timeout`."""


@dataclass
class _ActiveRun:
    request: RunRequest
    process: subprocess.Popen
    directory: Path
    cancel_reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ProcessRunLauncher:
    """The default launcher: one local subprocess per run."""

    def __init__(
        self,
        state_dir: Path,
        record: Record,
        *,
        hidden_env_vars: Collection[str] = (),
        terminate_grace_seconds: float = DEFAULT_TERMINATE_GRACE_SECONDS,
    ) -> None:
        self.runs_dir = Path(state_dir) / "runs"
        self.runs_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._record = record
        self._hidden = tuple(hidden_env_vars)
        self._grace = terminate_grace_seconds
        self._lock = threading.Lock()
        self._active: dict[str, _ActiveRun] = {}

    # -- the interface -------------------------------------------------------------------

    def launch(self, request: RunRequest, location: CodeLocationConfig) -> None:
        directory = self.runs_dir / request.run_id
        with self._lock:
            if request.run_id in self._active or directory.exists():
                self._rereport(request.run_id, directory)
                return
            directory.mkdir(mode=0o700)
            self._write_status(directory, RunStatus.STARTING)
        self._record([status_entry(request.run_id, RunStatus.STARTING)])
        request_file = directory / "request.json"
        request_file.write_text(json.dumps(_worker_request(request, location)))
        read_fd, write_fd = os.pipe()
        try:
            with (
                open(directory / "stdout.log", "wb") as stdout,
                open(directory / "stderr.log", "wb") as stderr,
            ):
                process = subprocess.Popen(
                    [
                        str(location.python),
                        "-c",
                        _BOOTSTRAP,
                        run_worker.__file__,
                        str(request_file),
                        str(write_fd),
                    ],
                    cwd=location.working_directory,
                    env=location_environment(location.env, hidden=self._hidden),
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=stderr,
                    pass_fds=(write_fd,),
                    start_new_session=True,  # a Ctrl-C at the agent's terminal is the agent's
                )
        except OSError as exc:
            os.close(read_fd)
            self._finish(
                request.run_id,
                directory,
                RunStatus.FAILED,
                f"cannot start the run process with {location.python}: {exc}",
            )
            return
        finally:
            os.close(write_fd)
        run = _ActiveRun(request=request, process=process, directory=directory)
        with self._lock:
            self._active[request.run_id] = run
        reason = (
            f"run process {process.pid} started; its raw output stays on the agent host "
            f"in {directory}"
        )
        self._write_status(directory, RunStatus.STARTED, pid=process.pid)
        self._record(
            [
                status_entry(request.run_id, RunStatus.STARTED, reason),
                event_entry(_logs_event(request.run_id, directory)),
            ]
        )
        threading.Thread(
            target=self._follow, args=(run, read_fd), name=f"run-{request.run_id[:8]}", daemon=True
        ).start()

    def terminate(self, run_id: str, reason: str) -> bool:
        with self._lock:
            run = self._active.get(run_id)
            if run is None or run.cancel_reason is not None:
                return run is not None
            run.cancel_reason = reason or "terminated on request"
        self._record([status_entry(run_id, RunStatus.CANCELING, run.cancel_reason)])
        self._signal(run, signal.SIGTERM)
        threading.Thread(target=self._kill_after_grace, args=(run,), daemon=True).start()
        return True

    def running_run_ids(self) -> list[str]:
        with self._lock:
            return [run_id for run_id, run in self._active.items() if run.process.poll() is None]

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                pending = list(self._active.values())
            if not pending:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            pending[0].done.wait(remaining)

    # -- recovery ------------------------------------------------------------------------

    def fail_orphaned_runs(self) -> list[str]:
        """Report FAILED every run a previous agent process left unfinished (kill -9, crash).

        Its events up to then are in the outbox; the rest cannot be recovered, so the run
        must not stay "started" forever. Returns the run ids.
        """
        orphans = []
        for directory in sorted(self.runs_dir.iterdir()):
            status = self._read_status(directory)
            if status is not None and not status.is_terminal and directory.name not in self._active:
                orphans.append(directory.name)
                self._finish(
                    directory.name,
                    directory,
                    RunStatus.FAILED,
                    "the agent stopped while this run was executing; "
                    "events it had recorded were kept",
                )
        return orphans

    # -- internals -----------------------------------------------------------------------

    def _follow(self, run: _ActiveRun, read_fd: int) -> None:
        """Append the worker's events to the outbox as they come, then report the outcome."""
        result: dict | None = None
        buffer = b""
        with os.fdopen(read_fd, "rb", buffering=0) as channel:
            while chunk := channel.read(_READ_CHUNK):
                *lines, buffer = (buffer + chunk).split(b"\n")
                entries = []
                for line in lines:
                    message = _parse(line, run.request.run_id)
                    if message is None:
                        continue
                    if message.get("kind") == "event":
                        entries.append(event_entry(message["event"]))
                    elif message.get("kind") == "result":
                        result = message
                if entries:
                    self._record(entries)
        code = run.process.wait()
        if run.cancel_reason is not None:
            status, reason = RunStatus.CANCELED, run.cancel_reason
        elif result is not None and result.get("success"):
            status, reason = RunStatus.SUCCEEDED, ""
        elif result is not None:
            status, reason = RunStatus.FAILED, str(result.get("message") or "the run failed")
        else:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            status = RunStatus.FAILED
            reason = f"run process {how} before reporting a result (see {run.directory})"
        self._finish(run.request.run_id, run.directory, status, reason)
        with self._lock:
            self._active.pop(run.request.run_id, None)
        run.done.set()

    def _kill_after_grace(self, run: _ActiveRun) -> None:
        if not run.done.wait(self._grace):
            log.warning(
                "run %s did not stop within %gs of SIGTERM; killing it",
                run.request.run_id,
                self._grace,
            )
            self._signal(run, signal.SIGKILL)

    @staticmethod
    def _signal(run: _ActiveRun, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(run.process.pid, signum)  # the worker and whatever user code started

    def _finish(self, run_id: str, directory: Path, status: RunStatus, reason: str) -> None:
        self._record([status_entry(run_id, status, reason)])
        self._write_status(directory, status, reason=reason)

    def _rereport(self, run_id: str, directory: Path) -> None:
        status = self._read_status(directory) or RunStatus.STARTING
        log.info("run %s was already launched here; re-reporting %s", run_id, status)
        self._record([status_entry(run_id, status, "re-reported: the run was already launched")])

    @staticmethod
    def _write_status(directory: Path, status: RunStatus, **extra: object) -> None:
        tmp = directory / "status.json.tmp"
        tmp.write_text(json.dumps({"status": str(status), **extra}))
        os.replace(tmp, directory / "status.json")

    @staticmethod
    def _read_status(directory: Path) -> RunStatus | None:
        try:
            return RunStatus(json.loads((directory / "status.json").read_text())["status"])
        except (OSError, ValueError, KeyError):
            return None


def _worker_request(request: RunRequest, location: CodeLocationConfig) -> dict:
    data = asdict(request)
    data["tags"] = dict(request.tags)
    data["module"] = location.module
    data["file"] = None if location.file is None else str(location.file)
    return data


def _logs_event(run_id: str, directory: Path) -> dict:
    """A log event telling where the run's raw output is (the path, never the content)."""
    return {
        "id": uuid.uuid4().hex,
        "type": "log",
        "run_id": run_id,
        "timestamp": time.time(),
        "asset_key": None,
        "step_key": None,
        "partition": None,
        "payload": {
            "level": "INFO",
            "message": f"raw stdout/stderr of this run stay on the agent host in {directory}",
            "agent_log_dir": str(directory),
            "stdout_path": str(directory / "stdout.log"),
            "stderr_path": str(directory / "stderr.log"),
        },
    }


def _parse(line: bytes, run_id: str) -> dict | None:
    if not line.strip():
        return None
    try:
        message = json.loads(line)
    except ValueError:
        log.error("run %s: unreadable line from its worker: %r", run_id, line[:200])
        return None
    return message if isinstance(message, dict) else None
