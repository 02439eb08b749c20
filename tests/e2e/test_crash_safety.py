"""Crash safety end to end, with real processes on PostgreSQL: `kill -9` the agent mid-run,
and the control plane's gRPC server mid-stream; after each restarts, every materialization
is stored exactly once (by event id and by run, asset and partition), the catalog agrees
with the event log, and every run ends.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent.outbox import Outbox
from billing.models import CreditLedgerEntry, DailyUsage
from billing.rollup import roll_up_usage
from control_plane.catalog.models import LocationSnapshot, Materialization
from control_plane.core.context import tenant_context
from control_plane.runs.models import TERMINAL_STATUSES, EventLogEntry, Run, RunStatus
from control_plane.tenancy import queries
from control_plane.tenancy.models import CodeLocation
from tests.control_plane.conftest import OrgWorld, make_org
from tests.control_plane.factories import agent_token, queue_run
from tests.e2e.processes import AGENT, AgentProcess, ControlPlane, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
STEPS = [f"step_{i:02d}" for i in range(30)]

PROJECT = """
import os, time
from pathlib import Path
from assay import Definitions, asset

WORK = Path(os.environ["WORK_DIR"])


def executed(name):
    with open(WORK / "executions.log", "a") as log:
        log.write(name + "\\n")


@asset
def before():
    executed("before")
    return 1


@asset
def gate(before):
    (WORK / "entered").touch()
    deadline = time.time() + 60
    while not (WORK / "open").exists():
        if time.time() > deadline:
            raise RuntimeError("the test never opened the gate")
        time.sleep(0.02)
    executed("gate")
    return before + 1


@asset
def after(gate):
    executed("after")
    return gate + 1


def stream_step(number):
    @asset(name=f"step_{number:02d}", group_name="stream")
    def step():
        time.sleep(0.04)  # events keep flowing for a while
        executed(f"step_{number:02d}")
        return number

    return step


defs = Definitions(assets=[before, gate, after, *[stream_step(n) for n in range(30)]])
"""


@dataclass
class Stack:
    org: OrgWorld
    work: Path
    control_plane: ControlPlane
    agent: AgentProcess
    location: CodeLocation

    @property
    def logs(self) -> tuple[Path, ...]:
        return (self.control_plane.log, self.agent.log)

    def queue(self, selection: str) -> Run:
        return queue_run(self.org.ctx(), location=self.location, selection=selection)

    def run(self, run: Run) -> Run:
        with tenant_context(self.org.ctx()):
            return Run.objects.get(pk=run.pk)

    def all_runs_end(self) -> list[Run]:
        def ended() -> list[Run] | None:
            with tenant_context(self.org.ctx()):
                runs = list(Run.objects.all())
            return runs if all(r.status in TERMINAL_STATUSES for r in runs) else None

        return wait_for(ended, "every run to end", logs=self.logs)

    def materialized(self, run: Run) -> list[str]:
        with tenant_context(self.org.ctx()):
            return list(
                EventLogEntry.objects.filter(
                    run=run, event_type="asset_materialization"
                ).values_list("asset_key", flat=True)
            )

    def executions(self) -> Counter[str]:
        path = self.work / "executions.log"
        return Counter(path.read_text().split()) if path.exists() else Counter()


@pytest.fixture
def stack(transactional_db, tmp_path: Path) -> Iterator[Stack]:
    if not AGENT.exists():
        pytest.skip("assay-agent is not installed in this environment")
    org = make_org("acme")
    with tenant_context(org.ctx()):
        prod = queries.get_deployment(name="prod")
    (tmp_path / "shop_defs.py").write_text(PROJECT)
    (tmp_path / "assay.yaml").write_text(
        "control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
        "  tls:\n    insecure: true\n"
        f"state_dir: {tmp_path / 'state'}\n"
        "deployments:\n  - prod\n"
        "code_locations:\n  - name: shop\n    module: shop_defs\n"
        f"    env:\n      WORK_DIR: {tmp_path}\n      ASSAY_HOME: {tmp_path / 'home'}\n"
    )
    control_plane = ControlPlane(tmp_path)
    config = tmp_path / "assay.yaml"
    config.write_text(config.read_text().replace("{address}", control_plane.address))
    agent = AgentProcess(tmp_path, token=agent_token(org.ctx(), deployments=[prod]))
    try:
        control_plane.start()
        agent.start()

        def registered() -> CodeLocation | None:
            with tenant_context(org.ctx()):
                current = LocationSnapshot.objects.filter(
                    code_location__name="shop", is_current=True, status="ok"
                ).first()
                return current.code_location if current else None

        location = wait_for(registered, "the agent's snapshot", logs=(control_plane.log, agent.log))
        yield Stack(org, tmp_path, control_plane, agent, location)
    finally:
        agent.stop()
        control_plane.stop()


def assert_each_materialization_stored_once(stack: Stack) -> None:
    with tenant_context(stack.org.ctx()):
        log = list(
            EventLogEntry.objects.filter(event_type="asset_materialization").values_list(
                "event_id", "run_id", "asset_key", "partition"
            )
        )
        catalog = sorted(Materialization.objects.values_list("event_id", flat=True))
    by_id = Counter(event_id for event_id, *_ in log)
    by_what = Counter((run_id, asset, partition) for _, run_id, asset, partition in log)
    assert max(by_id.values()) == 1
    assert max(by_what.values()) == 1, [k for k, n in by_what.items() if n > 1]
    assert catalog == sorted(by_id)  # the catalog projection agrees, one row each
    roll_up_usage()  # beside the daemon's own rollup loop: the cursor lets one fold each row
    with tenant_context(stack.org.ctx()):
        billed = Counter(CreditLedgerEntry.objects.values_list("event_id", flat=True))
        rolled_up = sum(DailyUsage.objects.values_list("credits", flat=True))
    lost = set(by_id) - set(billed)
    doubled = {event_id for event_id, n in billed.items() if n > 1} | (set(billed) - set(by_id))
    assert (len(lost), len(doubled)) == (0, 0)  # one credit per stored materialization
    assert rolled_up == len(by_id)


def status_changes(stack: Stack, run: Run) -> list[str]:
    with tenant_context(stack.org.ctx()):
        return [
            entry["status"]
            for entry in EventLogEntry.objects.filter(
                run=run, event_type="run_status_change"
            ).values_list("payload", flat=True)
        ]


def test_agent_killed_mid_run_comes_back_and_nothing_is_lost_or_stored_twice(stack: Stack):
    interrupted = stack.queue("+after")  # before -> gate (waits) -> after
    wait_for(lambda: (stack.work / "entered").exists(), "the run to reach the gate")
    wait_for(lambda: stack.materialized(interrupted) == ["before"], "an event to be ingested")

    stack.agent.kill()
    with Outbox(stack.work / "state") as outbox:  # what the agent had durably recorded
        recorded = {pending.entry.id for pending in outbox.pending(limit=100_000)}
    queued_meanwhile = stack.queue("+after")  # no agent connected: it waits in the queue
    (stack.work / "open").touch()
    stack.agent.start()
    runs = stack.all_runs_end()

    assert {r.pk: r.status for r in runs} == {
        interrupted.pk: RunStatus.FAILURE,
        queued_meanwhile.pk: RunStatus.SUCCESS,
    }
    assert "the agent stopped while this run was executing" in stack.run(interrupted).reason
    with tenant_context(stack.org.ctx()):
        stored = set(EventLogEntry.objects.values_list("event_id", flat=True))
    assert recorded <= stored  # nothing the agent had recorded before dying was lost
    assert stack.materialized(interrupted) == ["before"]
    assert sorted(stack.materialized(queued_meanwhile)) == ["after", "before", "gate"]
    assert_each_materialization_stored_once(stack)
    for run in runs:
        assert max(Counter(status_changes(stack, run)).values()) == 1


def test_control_plane_killed_mid_stream_comes_back_and_every_event_is_stored_once(
    stack: Stack,
):
    runs = [stack.queue("group:stream"), stack.queue("group:stream")]
    wait_for(
        lambda: len(stack.materialized(runs[0])) >= 5,
        "materializations to flow",
        logs=stack.logs,
    )

    stack.control_plane.kill_grpc()
    executed_before = sum(stack.executions().values())
    # The runs go on without a control plane: their events wait in the agent's outbox.
    wait_for(lambda: sum(stack.executions().values()) >= executed_before + 3, "runs to go on")
    stack.control_plane.start_grpc()
    # Queued at once: the dequeuer may hand it to the session the dead server left open.
    late = stack.queue("before")
    ended = stack.all_runs_end()

    assert [r.status for r in ended] == [RunStatus.SUCCESS] * 3
    for run in runs:
        assert sorted(stack.materialized(run)) == STEPS
        assert sorted(status_changes(stack, run)) == ["STARTED", "STARTING", "SUCCESS"]
    assert stack.materialized(late) == ["before"]
    assert stack.executions() == Counter({"before": 1} | {step: 2 for step in STEPS})
    assert_each_materialization_stored_once(stack)
    stack.agent.stop()  # a clean stop waits for the last acknowledgements
    with Outbox(stack.work / "state") as outbox:
        assert outbox.pending_count() == 0
