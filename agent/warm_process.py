"""The agent's handle on a code location's warm process (`run_worker.py serve`).

The warm process imports the SDK and the location once and forks a child per run, so a run
starts in milliseconds instead of paying an interpreter start and every import. This
module starts it under the location's Python, working directory and env, sends it spawn
requests (with the run's event pipe and output files as file descriptors over a Unix
socket) and turns its reports into `RunProcess` handles the launcher waits on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import queue
import socket
import subprocess
import threading
from collections.abc import Collection
from pathlib import Path
from typing import Any

from agent.config import CodeLocationConfig
from agent.location_process import location_environment, worker_argv

log = logging.getLogger(__name__)

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
