"""The process launcher with real processes: runs fork from the location's warm process, yet
each is its own process (own group, own output, own crash), and new code is picked up."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from agent.config import CodeLocationConfig
from agent.launcher import ProcessRunLauncher, RunRequest
from agent.outbox import EntryKind, OutboxEntry, status_reason

WAIT_SECONDS = 45.0

DEFS = """
import os, subprocess, time
from pathlib import Path
from assay import Definitions, MaterializeResult, asset

with open(os.environ["IMPORT_LOG"], "a") as log:  # once per import of this module
    log.write(f"{os.getpid()}\\n")
{extra}
VERSION = "v1"
WORK = Path(os.environ["WORK_DIR"])


@asset
def report():
    print("hello from the run")
    return MaterializeResult(
        metadata={"version": VERSION, "pid": os.getpid(), "ppid": os.getppid(),
                  "pgid": os.getpgid(0)}
    )


@asset
def crash():
    os.kill(os.getpid(), 9)


@asset
def sleeper():
    child = subprocess.Popen(["sleep", "60"])
    (WORK / "grandchild").write_text(str(child.pid))
    time.sleep(60)


defs = Definitions(assets=[report, crash, sleeper])
"""


class Recorded:
    """The launcher's `record` callable: what would go to the outbox."""

    def __init__(self) -> None:
        self.entries: list[OutboxEntry] = []
        self._changed = threading.Condition()

    def __call__(self, entries: Sequence[OutboxEntry]) -> None:
        with self._changed:
            self.entries.extend(entries)
            self._changed.notify_all()

    def final_status(self, run_id: str) -> OutboxEntry:
        terminal = {"SUCCEEDED", "FAILED", "CANCELED"}

        def found() -> OutboxEntry | None:
            for entry in self.entries:
                if (
                    entry.run_id == run_id
                    and entry.kind is EntryKind.RUN_STATUS_CHANGE
                    and entry.type in terminal
                ):
                    return entry
            return None

        with self._changed:
            assert self._changed.wait_for(found, WAIT_SECONDS), f"run {run_id} never ended"
            return found()  # type: ignore[return-value]

    def metadata(self, run_id: str) -> dict:
        [event] = [
            json.loads(e.payload)
            for e in self.entries
            if e.run_id == run_id and e.type == "asset_materialization"
        ]
        return event["payload"]["metadata"]


@pytest.fixture
def location(tmp_path: Path) -> CodeLocationConfig:
    return make_location(tmp_path)


def make_location(tmp_path: Path, extra: str = "") -> CodeLocationConfig:
    (tmp_path / "shop.py").write_text(DEFS.replace("{extra}", extra))
    return CodeLocationConfig(
        name="shop",
        module="shop",
        file=None,
        working_directory=tmp_path,
        python=Path(sys.executable),
        env={
            "IMPORT_LOG": str(tmp_path / "imports.log"),
            "WORK_DIR": str(tmp_path),
            "ASSAY_HOME": str(tmp_path / "home"),
        },
    )


@pytest.fixture
def launcher(tmp_path: Path) -> Iterator[tuple[ProcessRunLauncher, Recorded]]:
    recorded = Recorded()
    launcher = ProcessRunLauncher(tmp_path / "state", recorded, terminate_grace_seconds=2)
    yield launcher, recorded
    for run_id in launcher.running_run_ids():
        launcher.terminate(run_id, "test over")
    launcher.wait(10)
    launcher.close()


def run(launcher, recorded, location, run_id: str, selection: str = "report") -> OutboxEntry:
    launcher.launch(RunRequest(run_id, "prod", "shop", asset_selection=selection), location)
    return recorded.final_status(run_id)


def imports(tmp_path: Path) -> list[str]:
    return (tmp_path / "imports.log").read_text().split()


def test_runs_fork_from_one_warm_process_that_imported_the_location_once(
    tmp_path, location, launcher
):
    launcher, recorded = launcher
    for run_id in ("r1", "r2", "r3"):
        assert run(launcher, recorded, location, run_id).type == "SUCCEEDED"

    runs = [recorded.metadata(run_id) for run_id in ("r1", "r2", "r3")]
    assert len({r["pid"] for r in runs}) == 3  # a process per run ...
    assert {r["ppid"] for r in runs} == {int(imports(tmp_path)[0])}  # ... forked warm
    assert len(imports(tmp_path)) == 1
    assert all(r["pgid"] == r["pid"] for r in runs)  # each its own process group
    out = (tmp_path / "state" / "runs" / "r2" / "stdout.log").read_text()
    assert out == "hello from the run\n"  # user output: in the run's own file


def test_a_crashing_run_takes_neither_the_warm_process_nor_the_next_run_with_it(
    tmp_path, location, launcher
):
    launcher, recorded = launcher
    assert run(launcher, recorded, location, "r1").type == "SUCCEEDED"
    crashed = run(launcher, recorded, location, "r2", selection="crash")
    assert run(launcher, recorded, location, "r3").type == "SUCCEEDED"

    assert crashed.type == "FAILED"
    assert "killed by signal 9" in status_reason(crashed)
    assert recorded.metadata("r3")["ppid"] == recorded.metadata("r1")["ppid"]
    assert len(imports(tmp_path)) == 1


def test_changed_code_is_picked_up_by_the_next_run(tmp_path, location, launcher):
    launcher, recorded = launcher
    assert run(launcher, recorded, location, "r1").type == "SUCCEEDED"
    source = tmp_path / "shop.py"
    source.write_text(source.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
    later = time.time() + 5  # a distinct modification time even on coarse clocks
    os.utime(source, (later, later))
    assert run(launcher, recorded, location, "r2").type == "SUCCEEDED"

    assert recorded.metadata("r1")["version"] == "v1"
    assert recorded.metadata("r2")["version"] == "v2"
    assert recorded.metadata("r2")["ppid"] != recorded.metadata("r1")["ppid"]


def test_a_warm_process_that_died_is_replaced_at_the_next_launch(tmp_path, location, launcher):
    launcher, recorded = launcher
    assert run(launcher, recorded, location, "r1").type == "SUCCEEDED"
    os.kill(recorded.metadata("r1")["ppid"], signal.SIGKILL)
    assert run(launcher, recorded, location, "r2").type == "SUCCEEDED"

    assert recorded.metadata("r2")["ppid"] != recorded.metadata("r1")["ppid"]


def test_terminate_stops_the_whole_process_group_of_the_run(tmp_path, location, launcher):
    launcher, recorded = launcher
    launcher.launch(RunRequest("r1", "prod", "shop", asset_selection="sleeper"), location)
    grandchild = tmp_path / "grandchild"
    deadline = time.monotonic() + WAIT_SECONDS
    while not grandchild.exists() or not grandchild.read_text():
        assert time.monotonic() < deadline, "the run never started its subprocess"
        time.sleep(0.02)
    assert launcher.running_run_ids() == ["r1"]
    assert launcher.terminate("r1", "by alice")
    canceled = recorded.final_status("r1")

    assert canceled.type == "CANCELED"
    assert status_reason(canceled) == "by alice"
    pid = int(grandchild.read_text())
    deadline = time.monotonic() + WAIT_SECONDS
    while Path(f"/proc/{pid}").exists() and "Z" not in _state(pid):
        assert time.monotonic() < deadline, "the run's subprocess survived terminate"
        time.sleep(0.02)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_a_location_that_starts_threads_at_import_is_not_forked_with_them(
    tmp_path, launcher, caplog
):
    location = make_location(
        tmp_path,
        extra="import threading\nthreading.Thread(target=time.sleep, args=(60,), "
        "daemon=True).start()\n",
    )
    launcher, recorded = launcher
    assert run(launcher, recorded, location, "r1").type == "SUCCEEDED"
    assert run(launcher, recorded, location, "r2").type == "SUCCEEDED"

    # The warm process imported it once, saw the thread, and restarted with the SDK only:
    # each run then imports the location itself, in its own process.
    assert len(imports(tmp_path)) == 3
    assert recorded.metadata("r1")["ppid"] == recorded.metadata("r2")["ppid"]
    assert "it starts threads when imported" in caplog.text


def test_a_location_that_kills_its_interpreter_at_import_fails_the_run_with_its_output(
    tmp_path, location, launcher
):
    launcher, recorded = launcher
    source = tmp_path / "shop.py"
    good = source.read_text()
    source.write_text(
        "import os, sys\nprint('cannot reach the warehouse', file=sys.stderr)\n"
        "sys.stderr.flush()\nos._exit(3)\n"
    )
    failed = run(launcher, recorded, location, "r1")
    source.write_text(good)

    assert failed.type == "FAILED"
    assert "exit code 3" in status_reason(failed)
    assert "cannot reach the warehouse" in status_reason(failed)
    assert run(launcher, recorded, location, "r2").type == "SUCCEEDED"  # fixed: runs again


DYNAMIC_DEFS = """
import os
from assay import (
    DailyPartitionsDefinition, Definitions, DynamicPartitionsDefinition,
    MultiPartitionsDefinition, asset,
)

with open(os.environ["IMPORT_LOG"], "a") as log:
    log.write(f"{os.getpid()}\\n")
customers = DynamicPartitionsDefinition(name="customers")
days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


@asset(partitions_def=customers)
def invoices(context):
    return context.partition_key


@asset(partitions_def=MultiPartitionsDefinition({"date": days, "customer": customers}))
def usage(context):
    return context.partition_key


@asset(partitions_def=customers)
def statements(context):
    return {key: key.upper() for key in context.partition_keys}  # one run, many customers


defs = Definitions(assets=[invoices, usage, statements])
"""


def test_dynamic_partitions_run_over_the_keys_the_launch_carries(tmp_path, location, launcher):
    (tmp_path / "shop.py").write_text(DYNAMIC_DEFS)  # the control plane checked the keys
    launcher, recorded = launcher
    customers = {"customers": ["acme", "globex", "initech"]}

    def launch(run_id: str, selection: str, **fields) -> OutboxEntry:
        request = RunRequest(run_id, "prod", "shop", asset_selection=selection, **fields)
        launcher.launch(request, location)
        return recorded.final_status(run_id)

    assert launch("r1", "invoices", partition_key="acme").type == "SUCCEEDED"
    assert launch("r2", "usage", partition_key="acme|2024-01-02").type == "SUCCEEDED"
    ranged = launch(
        "r3", "statements", partition_range=("acme", "globex"), dynamic_partitions=customers
    )
    assert ranged.type == "SUCCEEDED", status_reason(ranged)
    # An older control plane sends no keys: one key still runs, a range says why it cannot.
    blind = launch("r4", "statements", partition_range=("acme", "globex"))
    assert blind.type == "FAILED"
    assert "sent no keys of dynamic partitions 'customers'" in status_reason(blind)
