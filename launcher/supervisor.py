"""The child processes of `assay dev`: start each with its own log, watch them, stop them in order.

Every child runs in its own process group, so Ctrl-C in the terminal (or a closed terminal's
SIGHUP) reaches only `assay dev`, which then stops the children one at a time, last started
first (the agent before the endpoints it flushes to): SIGTERM to the child, and SIGKILL to its
whole group after a grace. On Linux each child is also told to get SIGTERM should
`assay dev` itself die without stopping it (killed with SIGKILL), so none outlives it.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

TAIL_LINES = 30
KILL_WAIT_S = 5.0


@dataclass
class Child:
    """One supervised process; `name` is its log file's name and its prefix in --verbose."""

    name: str
    description: str
    process: subprocess.Popen[str]
    log_path: Path
    stop_timeout: float
    _tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    _reader: threading.Thread | None = None

    def is_running(self) -> bool:
        return self.process.poll() is None

    def exit_description(self) -> str:
        """`exit status 1` or `killed by SIGKILL`."""
        code = self.process.returncode
        if code is not None and code < 0:
            try:
                return f"killed by {signal.Signals(-code).name}"
            except ValueError:
                return f"killed by signal {-code}"
        return f"exit status {code}"

    def tail(self) -> str:
        """The last lines it wrote (waits briefly for the log reader to catch up)."""
        if self._reader is not None:
            self._reader.join(timeout=2.0)
        return "".join(self._tail).rstrip()


class ChildFailed(Exception):
    """A child exited, or never became ready, while `assay dev` needed it."""

    def __init__(self, child: Child, reason: str) -> None:
        self.child = child
        self.reason = reason
        super().__init__(f"{child.description} {reason}")


class Supervisor:
    """Starts children with their output in `log_dir/<name>.log` (optionally echoed too)."""

    def __init__(
        self,
        *,
        log_dir: Path,
        env: Mapping[str, str],
        echo: Callable[[str, str], None] | None = None,
    ) -> None:
        self.log_dir = log_dir
        self.env = dict(env)
        self.echo = echo
        self.children: list[Child] = []
        self.stopped = False
        log_dir.mkdir(parents=True, exist_ok=True)

    def start(
        self,
        name: str,
        description: str,
        argv: Sequence[str],
        *,
        stop_timeout: float = 15.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> Child:
        """Start `argv` in a new process group; its log file is rewritten on every start."""
        log_path = self.log_dir / f"{name}.log"
        process = subprocess.Popen(
            list(argv),
            env={**self.env, **(extra_env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
            process_group=0,
            preexec_fn=_terminate_with_parent,
        )
        child = Child(name, description, process, log_path, stop_timeout)
        self.children.append(child)
        child._reader = threading.Thread(
            target=self._copy_output, args=(child,), name=f"dev-{name}-log", daemon=True
        )
        child._reader.start()
        return child

    def _copy_output(self, child: Child) -> None:
        assert child.process.stdout is not None
        with child.log_path.open("w", encoding="utf-8") as log:
            for line in child.process.stdout:
                log.write(line)
                log.flush()
                child._tail.append(line)
                if self.echo is not None:
                    # A closed terminal must not stop the copying: the child would block.
                    with contextlib.suppress(OSError):
                        self.echo(child.name, line.rstrip("\n"))

    def check(self) -> None:
        """`ChildFailed` for the first child that is no longer running."""
        for child in self.children:
            if not child.is_running():
                raise ChildFailed(child, f"exited unexpectedly ({child.exit_description()})")

    def watch(self, interval: float = 0.2) -> NoReturn:
        """Block until a child exits, then raise `ChildFailed` for it."""
        while True:
            self.check()
            time.sleep(interval)

    def stop(self, on_stop: Callable[[Child], None] | None = None) -> None:
        """Stop every child, last started first: SIGTERM, then SIGKILL after its timeout.

        An interrupt while stopping (a second Ctrl-C) kills what is left at once and re-raises.
        Once stopped, stopping again does nothing (no signal to a process group since reused).
        """
        if self.stopped:
            return
        self.stopped = True
        try:
            for child in reversed(self.children):
                if child.is_running() and on_stop is not None:
                    on_stop(child)
                _terminate(child)
        except KeyboardInterrupt:
            for child in self.children:
                _kill_group(child)
            raise
        finally:
            for child in self.children:
                if child._reader is not None:
                    child._reader.join(timeout=2.0)


def _terminate(child: Child) -> None:
    """SIGTERM to the child (it stops its own workers: the agent lets runs finish), then
    SIGKILL to whatever is left of its process group after its grace."""
    if child.is_running():
        child.process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.process.wait(timeout=child.stop_timeout)
    # Whatever is left in its process group (a straggling grandchild) goes too.
    _kill_group(child)


def _kill_group(child: Child) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(child.process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        child.process.wait(timeout=KILL_WAIT_S)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# Looked up here, in the parent: the child between fork and exec (with the parent's threads
# gone mid-flight) makes one system call and loads nothing.
_prctl = ctypes.CDLL(None, use_errno=True).prctl if sys.platform.startswith("linux") else None


def _terminate_with_parent() -> None:
    """In the child before exec: SIGTERM when `assay dev` dies (Linux; elsewhere a no-op)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
