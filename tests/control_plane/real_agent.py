"""A real ``assay-agent`` subprocess connected to the real servicer on loopback, for
control-plane tests that need user code executed where it lives (runs, sensors)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import grpc
import pytest

from control_plane.agents.servicer import add_to_server
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.daemon import Loop, run_loops
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
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
    world,
    directory: Path,
    *,
    project: str | None,
    module: str = "project",
    source: str | None = None,
    location: str = "shop",
    dequeue: bool = True,
    loops: Sequence[Loop] = (),
    interceptors: Sequence[grpc.ServerInterceptor] = (),
) -> Iterator[Path]:
    """Serve ``project`` (Python source of a code location named ``location``) in
    ``world``'s prod deployment through a real agent; yields the agent's log path once the
    location's snapshot has arrived. ``source`` replaces the location's module and working
    directory lines of ``assay.yaml`` (a git source, say); ``project`` is then None.

    The servicer runs in-process on loopback (with ``interceptors``), and so do the
    daemon ``loops`` (threads, as ``run_daemon`` runs them): the run queue unless
    ``dequeue=False``, plus any others the test needs.
    """
    if not AGENT.exists():
        pytest.skip("assay-agent is not installed in this environment")
    with tenant_context(world.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(world.ctx(), deployments=[prod])
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16), interceptors=interceptors)
    add_to_server(server)
    address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
    server.start()
    running = [*([Loop("queue", 0.02, dequeue_runs, drain=True)] if dequeue else []), *loops]
    stop = threading.Event()
    daemon = threading.Thread(target=run_loops, args=(running,), kwargs={"stop": stop})
    daemon.start()
    if project is not None:
        (directory / f"{module}.py").write_text(project)
    where = source or f"    module: {module}\n    working_directory: {directory}\n"
    (directory / "assay.yaml").write_text(
        f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
        "  tls:\n    insecure: true\n"
        f"state_dir: {directory / 'state'}\n"
        "deployments:\n  - prod\n"
        f"code_locations:\n  - name: {location}\n{where}"
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
                    code_location__name=location, is_current=True
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
        daemon.join()
        server.stop(grace=None)
        shutil.rmtree(directory / "state", ignore_errors=True)
