"""`assay-agent run` as a real process: crash safety with kill -9, clean SIGTERM, bad config.

The control plane is `FakeControlPlane`, a test double of our own control plane (its real
servicer is built in parallel against the same proto; tests/e2e covers the real pair).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.outbox import Outbox
from tests.agent.agent_harness import agent_config
from tests.agent.config_files import TOKEN, minimal_config, write_config
from tests.agent.fake_control_plane import FakeControlPlane, launch

AGENT = [sys.executable, "-c", "import sys; from agent.cli import main; sys.exit(main())"]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def control_plane() -> Iterator[FakeControlPlane]:
    fake = FakeControlPlane(token=TOKEN)
    fake.start()
    yield fake
    fake.stop()


def start_agent(config_path: Path, log: Path) -> subprocess.Popen:
    with open(log, "ab") as stderr:
        return subprocess.Popen(
            [*AGENT, "run", "--config", str(config_path)],
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
            env={**os.environ, "GRPC_VERBOSITY": "ERROR"},
        )


def pending_ids(state_dir: Path) -> set[str]:
    with Outbox(state_dir) as outbox:
        return {p.entry.id for p in outbox.pending(limit=100_000)}


def test_kill_9_mid_run_then_restart_delivers_everything_the_outbox_committed(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    log = tmp_path / "agent.log"
    control_plane.acking = False  # nothing is acknowledged before the crash
    agent = start_agent(config.source, log)
    try:
        control_plane.send(launch("run-1", location_name="gated", asset_selection="+after"))
        control_plane.wait_for(lambda: (tmp_path / "gate" / "entered").exists(), "mid-run")
        control_plane.wait_for(
            lambda: control_plane.events_of("run-1", "asset_materialization"), "an event"
        )
        agent.send_signal(signal.SIGKILL)
        agent.wait(timeout=30)
    finally:
        agent.kill()
    committed = pending_ids(config.state_dir)
    assert committed
    (tmp_path / "gate" / "open").touch()  # the orphaned run worker may now end
    control_plane.acking = True

    agent = start_agent(config.source, log)
    try:
        control_plane.wait_for(
            lambda: committed <= set(control_plane.state.events) | control_plane.state.status_ids,
            "every committed entry",
        )
        failed = control_plane.wait_for_status("run-1", "RUN_STATUS_FAILED")
        control_plane.wait_for(
            lambda: control_plane.state.acked == max(control_plane.state.sequences),
            "everything acknowledged",
        )
        agent.send_signal(signal.SIGTERM)
        assert agent.wait(timeout=60) == 0
    finally:
        agent.kill()

    assert "agent stopped while this run was executing" in failed.reason
    assert pending_ids(config.state_dir) == set()
    received = [e.id for e in control_plane.state.events_received]
    assert set(received) == set(control_plane.state.events)  # after dedupe: once each
    assert TOKEN not in log.read_text()


def test_run_exits_2_naming_the_invalid_field(tmp_path: Path) -> None:
    path = write_config(tmp_path, minimal_config(deployments=[]))
    result = subprocess.run(
        [*AGENT, "run", "--config", str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "invalid config" in result.stderr
    assert "deployments" in result.stderr
    assert TOKEN not in result.stdout + result.stderr
