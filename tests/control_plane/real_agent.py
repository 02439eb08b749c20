"""A real ``assay-agent`` subprocess connected to the real servicer on loopback, for
control-plane tests that need user code executed where it lives (runs, sensors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from tests.control_plane.agents.fake_agent import start_server
from tests.control_plane.factories import agent_token

AGENT = Path(sys.executable).with_name("assay-agent")


def wait_for(predicate: Callable[[], Any], what: str, *, timeout: float = 60.0, log=None):
    """Poll ``predicate`` until truthy; on timeout, fail with the agent's log tail."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = log.read_text()[-4000:] if log is not None and log.exists() else ""
            raise AssertionError(f"timed out waiting for {what}\n{detail}")
        time.sleep(0.1)


@contextmanager
def real_agent(
    world, directory: Path, *, project: str, module: str = "project", dequeue: bool = True
) -> Iterator[Path]:
    """Serve ``project`` (Python source of a code location named ``shop``) in ``world``'s
    prod deployment through a real agent; yields the agent's log path once the location's
    snapshot has arrived. ``dequeue`` runs a dequeuer thread so queued runs execute."""
    if not AGENT.exists():
        pytest.skip("assay-agent is not installed in this environment")
    with tenant_context(world.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(world.ctx(), deployments=[prod])
    server, address = start_server()
    stop = threading.Event()

    def dequeuer() -> None:
        try:
            while not stop.is_set():
                if not dequeue_runs():
                    stop.wait(0.02)
        finally:
            connection.close()

    thread = threading.Thread(target=dequeuer, daemon=True)
    if dequeue:
        thread.start()
    (directory / f"{module}.py").write_text(project)
    (directory / "assay.yaml").write_text(
        f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
        "  tls:\n    insecure: true\n"
        f"state_dir: {directory / 'state'}\n"
        "deployments:\n  - prod\n"
        f"code_locations:\n  - name: shop\n    module: {module}\n"
        f"    working_directory: {directory}\n"
    )
    log = directory / "agent.log"
    process = subprocess.Popen(
        [str(AGENT), "run", "--config", str(directory / "assay.yaml")],
        env={"ASSAY_AGENT_TOKEN": token, "PATH": "/usr/bin:/bin", "GRPC_VERBOSITY": "ERROR"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=directory,
    )
    try:
        with tenant_context(world.ctx()):
            wait_for(
                lambda: LocationSnapshot.objects.filter(
                    code_location__name="shop", is_current=True
                ).exists(),
                "the location's snapshot",
                log=log,
            )
        yield log
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        stop.set()
        if dequeue:
            thread.join()
        server.stop(grace=None)
        shutil.rmtree(directory / "state", ignore_errors=True)
