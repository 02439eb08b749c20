"""Real processes for end-to-end tests, so a test can `kill -9` any of them.

`ControlPlane` runs `python -m control_plane grpc` and `python -m control_plane run_daemon`
as subprocesses against the test database (a transactional test's data is committed, so
they see it); the gRPC server keeps its port across restarts, so an agent reconnects to it.
`AgentProcess` runs `assay-agent run` with a config file and a state directory that survive
its restarts.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

from django.conf import settings
from django.db import connection

from control_plane.testing.postgres import free_port

REPO = Path(__file__).resolve().parents[2]
AGENT = Path(sys.executable).with_name("assay-agent")
WAIT_SECONDS = 60.0  # only ever waited for, never asserted as a duration

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, *, logs: tuple[Path, ...] = ()) -> T:
    """Poll until `predicate()` is truthy; on timeout, fail with the processes' logs."""
    deadline = time.monotonic() + WAIT_SECONDS
    while not (value := predicate()):
        if time.monotonic() > deadline:
            tails = "\n".join(
                f"--- {log.name}\n{log.read_text()[-3000:]}" for log in logs if log.exists()
            )
            raise AssertionError(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.05)
    return value


def database_url() -> str:
    """The test database as a URL another process can use (`DATABASE_URL`)."""
    db = connection.settings_dict
    password = f":{quote(db['PASSWORD'])}" if db.get("PASSWORD") else ""
    return (
        f"postgresql://{quote(db['USER'])}{password}@{db['HOST'] or 'localhost'}:"
        f"{db['PORT'] or 5432}/{quote(db['NAME'])}"
    )


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class ControlPlane:
    """The agent endpoint and the run queue, each its own `python -m control_plane`."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.log = workdir / "control-plane.log"
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(),
            "ASSAY_SECRET_KEY": settings.SECRET_KEY,
            "ASSAY_HOME": str(workdir / "control-plane-home"),
            "ASSAY_AGENT_HEARTBEAT_INTERVAL": "1",
            "GRPC_VERBOSITY": "ERROR",
        }
        self.grpc: subprocess.Popen | None = None
        self.daemon: subprocess.Popen | None = None

    def _spawn(self, *command: str) -> subprocess.Popen:
        # Django's system checks import every URL and serializer: seconds on this machine, and
        # a restart after a crash should be quick. The checks run in their own tests.
        with open(self.log, "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "control_plane", *command, "--skip-checks"],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self) -> None:
        self.start_grpc()
        self.daemon = self._spawn("run_daemon", "--loops", "queue,usage_rollup")

    def start_grpc(self) -> None:
        offset = self.log.stat().st_size if self.log.exists() else 0
        self.grpc = self._spawn("grpc", "--port", str(self.port))
        wait_for(
            lambda: f"grpc://127.0.0.1:{self.port}" in self.log.read_text()[offset:],
            "the gRPC server to listen",
            logs=(self.log,),
        )

    def kill_grpc(self) -> None:
        """`kill -9` the gRPC server: no goodbye to its agents, no cleanup in the database."""
        assert self.grpc is not None
        self.grpc.send_signal(signal.SIGKILL)
        self.grpc.wait()

    def stop(self) -> None:
        _stop(self.daemon)
        _stop(self.grpc)


class AgentProcess:
    """`assay-agent run` for one config file; its state directory outlives each process."""

    def __init__(self, workdir: Path, *, token: str) -> None:
        self.config = workdir / "assay.yaml"
        self.log = workdir / "agent.log"
        self.token = token
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                [str(AGENT), "run", "--config", str(self.config)],
                env={
                    "ASSAY_AGENT_TOKEN": self.token,
                    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "GRPC_VERBOSITY": "ERROR",
                },
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def kill(self) -> None:
        """`kill -9` the agent (its warm processes notice and exit; a forked run keeps going
        until it can no longer report)."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        _stop(self.process)
