"""The agent against a control plane over a real loopback gRPC stream, with real processes.

The control plane here is `FakeControlPlane` (tests/agent/fake_control_plane.py): a test
double of our own control plane, whose real servicer is being built in parallel against
the same proto. The end-to-end test with the real one lives in tests/e2e.
"""

from __future__ import annotations

import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.outbox import Outbox
from assay.api.v1 import agent_pb2 as pb
from tests.agent.agent_harness import agent_config, running_agent
from tests.agent.config_files import TOKEN
from tests.agent.fake_control_plane import FakeControlPlane, launch


@pytest.fixture
def control_plane() -> Iterator[FakeControlPlane]:
    fake = FakeControlPlane(token=TOKEN)
    fake.start()
    yield fake
    fake.stop()


def materialized_keys(fake: FakeControlPlane, run_id: str) -> list[str]:
    return sorted(e["asset_key"] for e in fake.events_of(run_id, "asset_materialization"))


# Every partition of the example's daily user_events, which daily_metrics reads in full.
WEEK = pb.PartitionRange(start="2026-11-01", end="2026-11-07")


def test_hello_and_every_location_snapshot_are_sent_with_the_token(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config) as agent:
        control_plane.wait_for(lambda: len(control_plane.state.snapshots) >= 3, "3 snapshots")
        control_plane.wait_for(lambda: control_plane.state.heartbeats, "a heartbeat")
        agent_id = agent.outbox.agent_id

    hello = control_plane.state.hellos[0]
    assert hello.agent_id == agent_id
    assert hello.protocol_version == 1
    assert list(hello.deployments) == ["prod"]
    assert list(hello.code_locations) == ["analytics", "gated", "broken"]
    assert control_plane.state.authorizations[0] == f"Bearer {TOKEN}"
    by_name = {s.location_name: s for s in control_plane.state.snapshots}
    analytics = by_name["analytics"]
    assert analytics.status == pb.LOCATION_STATUS_OK
    assert analytics.deployment == "prod"
    assert analytics.snapshot_id
    assert "daily_metrics" in analytics.snapshot_json.decode()
    broken = by_name["broken"]
    assert broken.status == pb.LOCATION_STATUS_ERROR
    assert "no_such_module_anywhere" in broken.error
    assert by_name["gated"].status == pb.LOCATION_STATUS_OK  # the others keep serving


def test_a_launched_run_executes_the_example_project_and_reports_its_events(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config) as agent:
        control_plane.send(launch("run-1", location_name="analytics", partition_range=WEEK))
        control_plane.wait_for_status("run-1", "RUN_STATUS_SUCCEEDED")
        control_plane.wait_for(lambda: agent.outbox.pending_count() == 0, "all acknowledged")

    assert control_plane.statuses_of("run-1") == [
        "RUN_STATUS_STARTING",
        "RUN_STATUS_STARTED",
        "RUN_STATUS_SUCCEEDED",
    ]
    assert (
        materialized_keys(control_plane, "run-1")
        == ["churn_model", "daily_metrics"] + ["user_events"] * 7
    )
    partitions = sorted(
        e["partition"]
        for e in control_plane.events_of("run-1", "asset_materialization")
        if e["asset_key"] == "user_events"
    )
    assert partitions == [f"2026-11-0{day}" for day in range(1, 8)]
    checks = control_plane.events_of("run-1", "asset_check_evaluation")
    assert [c["payload"]["passed"] for c in checks] == [True]
    sequences = [e.sequence for e in control_plane.state.events_received] + [
        s.sequence for s in control_plane.state.statuses
    ]
    assert sorted(sequences) == list(range(1, len(sequences) + 1))  # one counter, no gaps
    logs = [e for e in control_plane.events_of("run-1", "log") if "agent_log_dir" in e["payload"]]
    run_dir = Path(logs[0]["payload"]["agent_log_dir"])
    assert run_dir == tmp_path / "state" / "runs" / "run-1"
    assert (run_dir / "stdout.log").exists()


def open_gate_when_entered(root: Path, fake: FakeControlPlane) -> None:
    fake.wait_for(lambda: (root / "gate" / "entered").exists(), "the run to reach the gate")
    (root / "gate" / "open").touch()


def test_disconnect_mid_run_reconnects_and_replays_what_was_not_acknowledged(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config) as agent:
        control_plane.acking = False  # ingest but never acknowledge: the outbox keeps it all
        control_plane.send(launch("run-1", location_name="gated", asset_selection="+after"))
        control_plane.wait_for(lambda: (tmp_path / "gate" / "entered").exists(), "mid-run")
        control_plane.wait_for(
            lambda: control_plane.events_of("run-1", "asset_materialization"), "an event"
        )
        control_plane.stop()  # the control plane goes away mid-run
        (tmp_path / "gate" / "open").touch()  # the run goes on while disconnected
        control_plane.acking = True
        control_plane.start()
        control_plane.wait_for_status("run-1", "RUN_STATUS_SUCCEEDED")
        control_plane.wait_for(lambda: agent.outbox.pending_count() == 0, "all acknowledged")
        hellos = len(control_plane.state.hellos)

    assert hellos >= 2
    received = [e.id for e in control_plane.state.events_received]
    assert len(received) > len(set(received))  # replayed: some ids arrived twice ...
    assert set(received) == set(control_plane.state.events)  # ... and dedupe keeps one
    assert materialized_keys(control_plane, "run-1") == ["after", "before", "gate"]
    assert control_plane.state.acked == agent_last_sequence(tmp_path)


def agent_last_sequence(root: Path) -> int:
    with Outbox(root / "state") as outbox:
        return outbox.last_sequence


def test_terminate_stops_the_run_process_and_reports_canceled(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config) as agent:
        control_plane.send(launch("run-1", location_name="gated", asset_selection="+after"))
        control_plane.wait_for(lambda: (tmp_path / "gate" / "entered").exists(), "mid-run")
        assert agent.running_run_ids() == ["run-1"]
        control_plane.send(
            pb.ControlMessage(terminate_run=pb.TerminateRun(run_id="run-1", reason="by alice"))
        )
        cancel = control_plane.wait_for_status("run-1", "RUN_STATUS_CANCELED")
        assert agent.running_run_ids() == []

    assert control_plane.statuses_of("run-1")[-2:] == [
        "RUN_STATUS_CANCELING",
        "RUN_STATUS_CANCELED",
    ]
    assert cancel.reason == "by alice"
    assert materialized_keys(control_plane, "run-1") == ["before"]


def test_a_run_process_killed_with_sigkill_is_reported_failed(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="gated", asset_selection="+after"))
        control_plane.wait_for(lambda: (tmp_path / "gate" / "entered").exists(), "mid-run")
        status = json.loads((tmp_path / "state" / "runs" / "run-1" / "status.json").read_text())
        os.kill(status["pid"], signal.SIGKILL)
        failed = control_plane.wait_for_status("run-1", "RUN_STATUS_FAILED")

    assert "killed by signal 9" in failed.reason


def test_oversized_metadata_is_truncated_and_marked(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="gated", asset_selection="big"))
        control_plane.wait_for_status("run-1", "RUN_STATUS_SUCCEEDED")

    [event] = [
        e
        for e in control_plane.state.events.values()
        if e.run_id == "run-1" and e.event_type == "asset_materialization"
    ]
    assert len(event.payload_json) <= 64 * 1024
    payload = json.loads(event.payload_json)["payload"]
    assert payload["truncated"] is True
    assert payload["metadata"]["blob"]["truncated"] is True
    assert payload["metadata"]["blob"]["original_bytes"] > 200_000
    assert payload["metadata"]["rows"] == 3  # small values are kept as they are


def test_a_run_of_a_location_that_failed_to_load_fails_with_the_reason(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="broken"))
        control_plane.send(launch("run-2", location_name="nowhere"))
        control_plane.send(launch("run-3", location_name="analytics", snapshot_id="0" * 64))
        failed = [
            control_plane.wait_for_status(run_id, "RUN_STATUS_FAILED")
            for run_id in ("run-1", "run-2", "run-3")
        ]

    assert "code location 'broken' failed to load" in failed[0].reason
    assert "does not serve code location 'nowhere'" in failed[1].reason
    assert "planned against snapshot 000000000000" in failed[2].reason


def test_reload_location_sends_a_fresh_snapshot(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.wait_for(lambda: len(control_plane.state.snapshots) >= 3, "3 snapshots")
        (tmp_path / "broken" / "broken_defs.py").write_text(
            "from assay import Definitions, asset\n\n"
            "@asset\ndef fixed():\n    return 1\n\n"
            "defs = Definitions(assets=[fixed])\n"
        )
        control_plane.send(
            pb.ControlMessage(
                reload_location=pb.ReloadLocation(deployment="prod", location_name="broken")
            )
        )
        control_plane.wait_for(lambda: len(control_plane.state.snapshots) >= 4, "a new snapshot")

    latest = control_plane.state.snapshots[-1]
    assert latest.location_name == "broken"
    assert latest.status == pb.LOCATION_STATUS_OK
    assert "fixed" in latest.snapshot_json.decode()


def test_stopping_the_agent_mid_run_cancels_the_run_and_flushes_the_outbox(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="gated", asset_selection="+after"))
        control_plane.wait_for(lambda: (tmp_path / "gate" / "entered").exists(), "mid-run")
        # leaving the block stops the agent: after a grace period the run is terminated

    assert control_plane.statuses_of("run-1")[-1] == "RUN_STATUS_CANCELED"
    assert "shutting down" in control_plane.state.statuses[-1].reason
    assert agent_last_sequence(tmp_path) == control_plane.state.acked


def test_a_repeated_launch_only_re_reports_the_run(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="analytics", partition_range=WEEK))
        control_plane.wait_for_status("run-1", "RUN_STATUS_SUCCEEDED")
        control_plane.send(launch("run-1", location_name="analytics", partition_range=WEEK))
        control_plane.wait_for(
            lambda: control_plane.statuses_of("run-1").count("RUN_STATUS_SUCCEEDED") == 2,
            "the status re-reported",
        )

    assert control_plane.statuses_of("run-1").count("RUN_STATUS_STARTED") == 1
    assert len(materialized_keys(control_plane, "run-1")) == 9  # 7 days of user_events + 2


def test_a_run_whose_selection_matches_nothing_fails_with_the_sdk_message(
    tmp_path: Path, control_plane: FakeControlPlane
) -> None:
    config = agent_config(tmp_path, control_plane.port)
    with running_agent(config):
        control_plane.send(launch("run-1", location_name="analytics", asset_selection="nope"))
        failed = control_plane.wait_for_status("run-1", "RUN_STATUS_FAILED")

    assert "nope" in failed.reason
    assert "Traceback" not in failed.reason
