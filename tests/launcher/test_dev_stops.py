"""However `assay dev` is stopped — SIGTERM from a supervisor, a closed terminal, or being killed
outright — no process it started survives it.

Each test runs the real command as a subprocess on SQLite, waits for it to report ready (which
it does only once the control plane says the agent serves the location), stops it one way, and
checks the process table: every descendant seen while it ran must be gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
READY = b"Press Ctrl-C to stop."
STARTUP_TIMEOUT_S = 120.0  # generous: the test machine's two cores are shared
GONE_TIMEOUT_S = 90.0  # the agent may take its drain time
ROLES = ("control_plane serve", "control_plane grpc", "control_plane run_daemon", "assay-agent")
pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _argv(home: Path) -> list[str]:
    return [sys.executable, "-m", "assay", "dev", "--home", str(home),
            "--port", str(_free_port()), "--grpc-port", str(_free_port())]  # fmt: skip


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, start time) of every process, from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":  # a zombie has exited; only its parent's wait is missing
            table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Every live process below `pid`: pid -> start time (to tell a reused pid apart)."""
    table = _process_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def _command_lines(processes: dict[int, str]) -> list[str]:
    lines = []
    for pid in processes:
        with contextlib.suppress(OSError):
            lines.append(Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " "))
    return lines


def _survivors(processes: dict[int, str]) -> list[int]:
    """Those of `processes` still running, waiting (bounded) for them to go."""
    deadline = time.monotonic() + GONE_TIMEOUT_S
    while True:
        table = _process_table()
        alive = [pid for pid, started in processes.items() if table.get(pid, (0, ""))[1] == started]
        if not alive or time.monotonic() > deadline:
            return alive
        time.sleep(0.2)


def _read_until_ready(read, process: subprocess.Popen) -> bytes:
    output = b""
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while READY not in output:
        assert time.monotonic() < deadline, output.decode(errors="replace")
        assert process.poll() is None, output.decode(errors="replace")
        output += read()
    return output


def _assert_all_roles_started(started: dict[int, str]) -> None:
    commands = " | ".join(_command_lines(started))
    for role in ROLES:
        assert role in commands, commands


def _kill(processes: dict[int, str]) -> None:
    """Clean up after a failed test: nothing it started may outlive it (a reused pid is
    left alone)."""
    table = _process_table()
    for pid, started in processes.items():
        if table.get(pid, (0, ""))[1] != started:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
def test_assay_dev_leaves_no_process_behind_when_stopped_by_a_signal(tmp_path, how):
    process = subprocess.Popen(
        _argv(tmp_path / "home"),
        cwd=REPO,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert process.stdout is not None
    started: dict[int, str] = {}
    try:
        output = _read_until_ready(lambda: process.stdout.readline(), process)
        started = _descendants(process.pid)
        _assert_all_roles_started(started)
        # SIGTERM: it stops its children itself. SIGKILL: it cannot, and each child learns
        # of its death from the kernel (and stops its own workers).
        process.send_signal(getattr(signal, how))
        output += process.stdout.read()
        code = process.wait(timeout=GONE_TIMEOUT_S)
        assert code == (0 if how == "SIGTERM" else -signal.SIGKILL), output
        assert _survivors(started) == [], _command_lines(started)
    finally:
        if process.poll() is None:
            process.kill()
        _kill(started)


def test_assay_dev_leaves_no_process_behind_when_its_terminal_closes(tmp_path):
    """A real terminal: `assay dev` is the session leader on a pseudo-terminal; closing the
    terminal's side sends it SIGHUP, and from then on every write to the terminal fails."""
    master, slave = pty.openpty()

    def become_terminal_owner() -> None:  # in the child: the pty is its controlling terminal
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        _argv(tmp_path / "home"),
        cwd=REPO,
        env=_env(),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=become_terminal_owner,
    )
    os.close(slave)

    def read() -> bytes:
        ready, _, _ = select.select([master], [], [], 1.0)
        return os.read(master, 65536) if ready else b""

    started: dict[int, str] = {}
    try:
        _read_until_ready(read, process)
        started = _descendants(process.pid)
        _assert_all_roles_started(started)
        os.close(master)  # the terminal window closes
        master = -1
        process.wait(timeout=GONE_TIMEOUT_S)
        assert _survivors(started) == [], _command_lines(started)
    finally:
        if master >= 0:
            os.close(master)
        if process.poll() is None:
            process.kill()
        _kill(started)
