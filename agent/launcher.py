"""Run launchers: how the agent executes a run it was told to launch.

`RunLauncher` is the interface (`kubernetes_launcher.py` is the second one);
`ProcessRunLauncher` is the default: one process per run under the location's Python,
working directory and env, forked by the location's warm process (`run_worker.py serve`,
whose agent-side handle, `WarmProcess`, ends this module), which imported the SDK and the
location once, so a run starts in milliseconds. The run process
streams structured events over a pipe (a dedicated fd, never stdout); user code's raw
stdout/stderr go to files in `state_dir/runs/<run_id>/` and stay on this machine. Every
event and status change is appended to the outbox (via `record`) before anything is sent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.config import CodeLocationConfig
from agent.location_process import ChildOutcome, location_environment, worker_argv
from agent.outbox import OutboxEntry, RunStatus, event_entry, status_entry

log = logging.getLogger(__name__)

DEFAULT_TERMINATE_GRACE_SECONDS = 10.0
_READ_CHUNK = 256 * 1024

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
    # The keys of the location's dynamic partitions, as the control plane holds them.
    dynamic_partitions: Mapping[str, list[str]] = field(default_factory=dict)


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

    def close(self) -> None:
        """Release what the launcher keeps between runs (after `wait`, at shutdown)."""


@dataclass
class _ActiveRun:
    request: RunRequest
    location: CodeLocationConfig
    directory: Path
    process: RunProcess | None = None  # None until forked
    cancel_reason: str | None = None
    done: threading.Event = field(default_factory=threading.Event)


class ProcessRunLauncher:
    """The default launcher: one local process per run, forked from a warm location."""

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
        self.locations_dir = Path(state_dir) / "locations"  # the warm processes' own output
        self.locations_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.ticks_dir = Path(state_dir) / "ticks"  # sensors' and schedules' requests, output
        self.ticks_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._record = record
        self._hidden = tuple(hidden_env_vars)
        self._grace = terminate_grace_seconds
        self._lock = threading.Lock()
        self._active: dict[str, _ActiveRun] = {}
        self._warm: dict[str, WarmProcess] = {}
        self._warm_locks: dict[str, threading.Lock] = {}

    # -- the interface -------------------------------------------------------------------

    def launch(self, request: RunRequest, location: CodeLocationConfig) -> None:
        directory = self.runs_dir / request.run_id
        with self._lock:
            if request.run_id in self._active or directory.exists():
                self._rereport(request.run_id, directory)
                return
            directory.mkdir(mode=0o700)
            self._write_status(directory, RunStatus.STARTING)
            run = _ActiveRun(request=request, location=location, directory=directory)
            self._active[request.run_id] = run
        self._record([status_entry(request.run_id, RunStatus.STARTING)])
        (directory / "request.json").write_text(json.dumps(_worker_request(request, location)))
        # Off the caller's thread: the first run of a location waits for its warm process.
        threading.Thread(
            target=self._execute, args=(run,), name=f"run-{request.run_id[:8]}", daemon=True
        ).start()

    def terminate(self, run_id: str, reason: str) -> bool:
        with self._lock:
            run = self._active.get(run_id)
            if run is None or run.cancel_reason is not None:
                return run is not None
            run.cancel_reason = reason or "terminated on request"
            forked = run.process is not None  # else the run's thread stops it when forked
        self._record([status_entry(run_id, RunStatus.CANCELING, run.cancel_reason)])
        if forked:
            self._stop(run)
        return True

    def running_run_ids(self) -> list[str]:
        with self._lock:
            return [
                run_id
                for run_id, run in self._active.items()
                if run.process is None or run.process.poll() is None
            ]

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

    def close(self) -> None:
        """Stop every warm process (runs still executing keep going to their end)."""
        with self._lock:
            warm, self._warm = list(self._warm.values()), {}
        for process in warm:
            process.close()

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

    def _execute(self, run: _ActiveRun) -> None:
        """Fork the run's process, report it started, then follow it to its outcome."""
        run_id, directory = run.request.run_id, run.directory
        if run.cancel_reason is not None:  # terminated before it was forked
            self._end(run, RunStatus.CANCELED, run.cancel_reason)
            return
        try:
            read_fd, write_fd = os.pipe()
        except OSError as exc:  # out of file descriptors
            self._end(run, RunStatus.FAILED, f"the run process could not be started: {exc}")
            return
        try:
            with (
                open(directory / "stdout.log", "wb") as stdout,
                open(directory / "stderr.log", "wb") as stderr,
            ):
                process = self._fork(run, write_fd, stdout.fileno(), stderr.fileno())
        except (WarmProcessError, OSError) as exc:  # a full disk, no descriptors left, ...
            os.close(read_fd)
            self._end(run, RunStatus.FAILED, f"the run process could not be started: {exc}")
            return
        finally:
            os.close(write_fd)  # the run's process holds the only write end now
        with self._lock:
            run.process = process
            canceled = run.cancel_reason is not None
        if canceled:
            self._stop(run)
        reason = (
            f"run process {process.pid} started; its raw output stays on the agent host "
            f"in {directory}"
        )
        self._write_status(directory, RunStatus.STARTED, pid=process.pid)
        self._record(
            [
                status_entry(run_id, RunStatus.STARTED, reason),
                event_entry(_logs_event(run_id, directory)),
            ]
        )
        self._follow(run, read_fd)

    def _fork(self, run: _ActiveRun, event_fd: int, stdout_fd: int, stderr_fd: int) -> RunProcess:
        fds = {"event_fd": event_fd, "stdout_fd": stdout_fd, "stderr_fd": stderr_fd}
        return self._spawn(run.location, run.directory / "request.json", fds)

    def _spawn(
        self, location: CodeLocationConfig, request_file: Path, fds: dict[str, int]
    ) -> RunProcess:
        """Fork from the location's warm process; a stale or dead one is replaced once."""
        warm, reused = self._warm_process(location)
        try:
            return warm.spawn(request_file, **fds)
        except WarmProcessError as exc:
            self._discard(warm)
            if not reused:
                raise
            level = logging.INFO if isinstance(exc, StaleWarmProcess) else logging.WARNING
            log.log(level, "code location %s: new warm process: %s", location.name, exc)
        warm, _ = self._warm_process(location)
        try:
            return warm.spawn(request_file, **fds)
        except WarmProcessError:
            self._discard(warm)
            raise

    def evaluate_tick(
        self, location: CodeLocationConfig, request: dict[str, Any], timeout: float
    ) -> ChildOutcome:
        """Evaluate a sensor or schedule function in a child of the location's warm process
        (``tick_process.WarmEvaluator``). What the function prints goes to
        ``state_dir/ticks/<kind>-<name>.log`` (the latest evaluation's); a child still busy
        at ``timeout`` is killed with its process group."""
        output_file = self.ticks_dir / f"{request['kind']}-{_file_name(request['name'])}.log"
        request_file = self.ticks_dir / f"{request['request_id']}.json"
        request_file.write_text(json.dumps(request))
        read_fd, write_fd = os.pipe()
        try:
            with open(output_file, "wb") as output:
                fds = {"event_fd": write_fd, "stdout_fd": output.fileno()}
                process = self._spawn(location, request_file, {**fds, "stderr_fd": output.fileno()})
        except BaseException:
            os.close(read_fd)
            request_file.unlink(missing_ok=True)
            raise
        finally:
            os.close(write_fd)
        try:
            answer, timed_out = _read_answer(read_fd, timeout)
            if timed_out:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
                return ChildOutcome(None, timed_out=True)
            code = process.wait(timeout=10)
        finally:
            request_file.unlink(missing_ok=True)
        if answer is not None:
            return ChildOutcome(answer)
        return ChildOutcome(None, returncode=code, output_tail=_tail(output_file))

    def _warm_process(self, location: CodeLocationConfig) -> tuple[WarmProcess, bool]:
        """The location's warm process (started now if needed) and whether it already ran."""
        with self._lock:
            lock = self._warm_locks.setdefault(location.name, threading.Lock())
        with lock:  # one start per location, however many runs arrive at once
            with self._lock:
                warm = self._warm.get(location.name)
            if warm is not None and warm.alive and warm.location == location:
                return warm, True
            if warm is not None:
                self._discard(warm)
            warm = WarmProcess(
                location,
                log_path=self.locations_dir / f"{location.name}.log",
                hidden_env_vars=self._hidden,
            )
            with self._lock:
                self._warm[location.name] = warm
            return warm, False

    def _discard(self, warm: WarmProcess) -> None:
        with self._lock:
            if self._warm.get(warm.location.name) is warm:
                del self._warm[warm.location.name]
        warm.close()

    def _follow(self, run: _ActiveRun, read_fd: int) -> None:
        """Append the run's events to the outbox as they come, then report the outcome."""
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
        assert run.process is not None
        code = run.process.wait()
        if run.cancel_reason is not None:
            status, reason = RunStatus.CANCELED, run.cancel_reason
        elif result is not None and result.get("success"):
            status, reason = RunStatus.SUCCEEDED, ""
        elif result is not None:
            status, reason = RunStatus.FAILED, str(result.get("message") or "the run failed")
        else:
            if code is None:
                how = "ended (exit status unknown: its location's warm process is gone)"
            elif code < 0:
                how = f"was killed by signal {-code}"
            else:
                how = f"exited with code {code}"
            status = RunStatus.FAILED
            reason = f"run process {how} before reporting a result (see {run.directory})"
        self._end(run, status, reason)

    def _end(self, run: _ActiveRun, status: RunStatus, reason: str) -> None:
        self._finish(run.request.run_id, run.directory, status, reason)
        with self._lock:
            self._active.pop(run.request.run_id, None)
        run.done.set()

    def _stop(self, run: _ActiveRun) -> None:
        """SIGTERM the run's process group now, SIGKILL after the grace period."""
        self._signal(run, signal.SIGTERM)
        threading.Thread(target=self._kill_after_grace, args=(run,), daemon=True).start()

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
        assert run.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(run.process.pid, signum)  # the run and whatever user code started

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
    data["dynamic_partitions"] = {k: list(v) for k, v in request.dynamic_partitions.items()}
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


def _read_answer(read_fd: int, timeout: float) -> tuple[dict[str, Any] | None, bool]:
    """The tick child's answer from its channel, and whether time ran out first."""
    deadline = time.monotonic() + timeout
    buffer = b""
    with os.fdopen(read_fd, "rb", buffering=0) as channel:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([channel], [], [], left)[0]:
                return None, True
            chunk = channel.read(_READ_CHUNK)
            if not chunk:
                break
            buffer += chunk
    for line in buffer.split(b"\n"):
        with contextlib.suppress(ValueError):
            message = json.loads(line)
            if isinstance(message, dict) and message.get("kind") == "tick_result":
                return message.get("result"), False
    return None, False


def _tail(path: Path, limit: int = 8 * 1024) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace").strip()


def _file_name(name: str) -> str:
    """A sensor or schedule name as one safe file name (names may hold '/')."""
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)[:150] or "_"


# -- the warm process of a location ------------------------------------------------------
# `run_worker.py serve` imports the SDK and the location once and forks a child per run, so
# a run starts in milliseconds instead of paying an interpreter start and every import.
# `WarmProcess` starts it under the location's Python, working directory and env, sends it
# spawn requests (with the run's event pipe and output files as file descriptors over a
# Unix socket) and turns its reports into `RunProcess` handles the launcher waits on.

DEFAULT_START_TIMEOUT_SECONDS = 120.0
_REPLY_TIMEOUT_SECONDS = 30.0
_LOG_TAIL_BYTES = 4 * 1024
_MAX_MESSAGE = 64 * 1024


class WarmProcessError(Exception):
    """The warm process could not be started, or is gone; the message says why."""


class StaleWarmProcess(WarmProcessError):
    """A file the warm process imported changed on disk; it exited so a fresh one starts."""


class RunProcess:
    """One run's process, forked by a warm process (the parts of `Popen` the launcher uses)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None
        self._ended = threading.Event()

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code (negative: the signal), or None when it cannot be known because
        the warm process that forked the run is gone."""
        self._ended.wait(timeout)
        return self.returncode

    def _exited(self, returncode: int | None) -> None:
        self.returncode = returncode
        self._ended.set()


class WarmProcess:
    """A running warm process of one location; `spawn` is safe to call from any thread."""

    def __init__(
        self,
        location: CodeLocationConfig,
        *,
        log_path: Path,
        hidden_env_vars: Collection[str] = (),
        start_timeout: float = DEFAULT_START_TIMEOUT_SECONDS,
    ) -> None:
        self.location = location
        self.log_path = log_path
        self._replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._runs: dict[int, RunProcess] = {}
        self._lock = threading.Lock()  # one spawn at a time: replies come in order
        self._runs_lock = threading.Lock()
        self._gone = threading.Event()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self._socket = ours
        kind, target = (
            ("module", location.module)
            if location.module is not None
            else ("file", str(location.file))
        )
        try:
            with open(log_path, "ab") as output:
                self.process = subprocess.Popen(
                    [
                        str(location.python),
                        *worker_argv("serve", str(theirs.fileno()), kind, str(target)),
                    ],
                    cwd=location.working_directory,
                    env=location_environment(location.env, hidden=hidden_env_vars),
                    stdin=subprocess.DEVNULL,
                    stdout=output,  # what user code prints at import stays on this host
                    stderr=output,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,  # a Ctrl-C at the agent's terminal is the agent's
                )
        except OSError as exc:
            ours.close()
            raise WarmProcessError(
                f"cannot start {location.python} for code location '{location.name}': {exc}"
            ) from exc
        finally:
            theirs.close()
        threading.Thread(target=self._read, name=f"warm-{location.name}", daemon=True).start()
        try:
            ready = self._reply(start_timeout)
            if ready.get("op") != "ready":
                raise WarmProcessError(f"unexpected first message from the warm process: {ready}")
        except WarmProcessError:
            self.close()
            raise
        if ready.get("note"):
            log.warning("code location %s: warm process %s", location.name, ready["note"])
        log.info("code location %s: warm process %d ready", location.name, self.process.pid)

    @property
    def alive(self) -> bool:
        return not self._gone.is_set()

    def spawn(
        self, request_file: Path, *, event_fd: int, stdout_fd: int, stderr_fd: int
    ) -> RunProcess:
        """Fork a child that executes the run in `request_file`; the fds are only lent."""
        with self._lock:
            if self._gone.is_set():
                raise WarmProcessError(self._gone_message())
            message = json.dumps({"op": "spawn", "request_file": str(request_file)}).encode()
            try:
                socket.send_fds(self._socket, [message], [event_fd, stdout_fd, stderr_fd])
            except OSError as exc:
                raise WarmProcessError(self._gone_message()) from exc
            reply = self._reply(_REPLY_TIMEOUT_SECONDS)
            if reply.get("op") == "stale":
                raise StaleWarmProcess(f"{reply.get('changed')} changed since it was imported")
            if reply.get("op") != "spawned":
                raise WarmProcessError(f"the warm process refused the run: {reply}")
            return reply["run"]

    def close(self) -> None:
        """Stop the warm process (closing its socket ends it); running children go on."""
        with contextlib.suppress(OSError):  # shutdown, not just close: wakes our reader too
            self._socket.shutdown(socket.SHUT_RDWR)
        self._socket.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # -- internals -----------------------------------------------------------------------

    def _reply(self, timeout: float) -> dict[str, Any]:
        try:
            reply = self._replies.get(timeout=timeout)
        except queue.Empty:
            self.close()
            raise WarmProcessError(
                f"the warm process of code location '{self.location.name}' did not answer "
                f"within {timeout:g} s"
            ) from None
        if reply is None:
            raise WarmProcessError(self._gone_message())
        return reply

    def _read(self) -> None:
        """Route the warm process's messages: exits to their runs, the rest to `spawn`."""
        try:
            while message := self._socket.recv(_MAX_MESSAGE):
                report = json.loads(message)
                if report.get("op") == "spawned":
                    # Registered here, before anything else is read: its exit report may
                    # be the very next message.
                    report["run"] = run = RunProcess(int(report["pid"]))
                    with self._runs_lock:
                        self._runs[run.pid] = run
                    self._replies.put(report)
                elif report.get("op") == "exited":
                    with self._runs_lock:
                        exited = self._runs.pop(int(report["pid"]), None)
                    if exited is not None:
                        exited._exited(int(report["returncode"]))
                else:
                    self._replies.put(report)
        except (OSError, ValueError):
            pass  # closed by us, or the process died mid-message
        finally:
            self._gone.set()
            self._replies.put(None)
            with self._runs_lock:
                orphans, self._runs = list(self._runs.values()), {}
            for run in orphans:
                run._exited(None)  # exit status unknowable now; the event pipe tells the end

    def _gone_message(self) -> str:
        try:  # its socket closed: it is exiting, if not gone already
            code: int | None = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        how = (
            ""
            if code is None
            else (f" (killed by signal {-code})" if code < 0 else f" (exit code {code})")
        )
        try:
            with open(self.log_path, "rb") as output:
                output.seek(0, os.SEEK_END)
                output.seek(max(0, output.tell() - _LOG_TAIL_BYTES))
                tail = output.read().decode("utf-8", "replace").strip()
        except OSError:
            tail = ""
        message = f"the warm process of code location '{self.location.name}' is gone{how}"
        return f"{message}; its last output:\n{tail}" if tail else message
