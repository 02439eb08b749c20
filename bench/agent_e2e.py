"""Agent -> control plane, end to end with the real ``assay-agent``: event ingestion rate and
run launch latency.

Starts a throwaway PostgreSQL, ``python -m control_plane grpc`` and ``python -m control_plane
run_daemon --loops queue`` in their own processes, and ``assay-agent run`` serving one small
code location. Then:

- ``events_per_s``: ``BENCH_EVENTS`` (100,000) run events, one in ten an
  ``asset_materialization`` of its own partition (so the catalog projections work too), are
  written to the agent's durable outbox the way its run launcher records them; the agent
  sends them over its stream (its own batching) and the control plane ingests them. Measured
  from the first acknowledged batch to the acknowledgement of the last event (i.e. until
  everything is committed to PostgreSQL), over the events in between.
- ``launch_p50_ms`` / ``launch_p99_ms``: ``BENCH_LAUNCHES`` (200) runs queued one at a time
  through ``runs.services.launch_run`` (what the REST API calls); each latency is the run's
  ``created_at`` (queued) to the timestamp of its first ``step_started`` event as stored in
  the event log. The location is warm: the first three runs are not counted.

Prints one JSON line with exactly ``events_per_s``, ``launch_p50_ms`` and ``launch_p99_ms``.
Standard error gives a breakdown, and the idle cost: with the agent connected and nothing to
do, the CPU the gRPC server, the run daemon's queue loop and PostgreSQL (all its processes)
use over ``BENCH_IDLE_SECONDS`` (10), in percent of one core (from ``/proc/<pid>/stat``).
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.control_plane_env import throwaway_control_plane

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
LAUNCHES = int(os.environ.get("BENCH_LAUNCHES", "200"))
IDLE_SECONDS = float(os.environ.get("BENCH_IDLE_SECONDS", "10"))
WARMUP_LAUNCHES = 3
AGENT = Path(sys.executable).with_name("assay-agent")
TIMEOUT_SECONDS = 120.0

QUICK_DEFS = """
from assay import Definitions, asset


@asset
def quick() -> int:
    return 1


defs = Definitions(assets=[quick])
"""


def _seed():
    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.runs.models import Run, RunStatus
    from control_plane.tenancy import services
    from control_plane.tenancy.models import CodeLocation, Deployment, User

    organization = services.create_organization(
        actor=Principal.system("bench"), slug="bench", name="Bench", admin_email="a@bench.test"
    )
    admin = User.objects.get(email="a@bench.test")
    ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
    with tenant_context(ctx):
        prod = Deployment.objects.get(name="prod")
        prod.max_concurrent_runs = 1000
        prod.save()
        _, token = services.create_agent_token(ctx=ctx, name="bench", deployments=[prod])
        location = CodeLocation.objects.create(
            organization=organization, deployment=prod, name="quick"
        )
        # The run the ingested events belong to (already started: the dequeuer leaves it).
        run = Run.objects.create(
            organization=organization,
            deployment=prod,
            code_location=location,
            status=RunStatus.STARTED,
        )
    return ctx, token, prod, location, run


def _fill_outbox(state_dir: Path, run_id: str) -> str:
    """Record EVENTS events in the agent's outbox as its launcher does; returns its id."""
    from agent.outbox import Outbox, event_entry

    with Outbox(state_dir) as outbox:
        for start in range(0, EVENTS, 1000):
            entries = []
            for i in range(start, min(start + 1000, EVENTS)):
                materialization = i % 10 == 0
                entries.append(
                    event_entry(
                        {
                            "id": uuid.uuid4().hex,
                            "type": "asset_materialization" if materialization else "log",
                            "run_id": run_id,
                            "timestamp": time.time(),
                            "asset_key": "events_table" if materialization else None,
                            "step_key": "events_table",
                            "partition": str(i) if materialization else None,
                            "payload": {"metadata": {"rows": i}}
                            if materialization
                            else {"level": "INFO", "message": f"event {i}"},
                        }
                    )
                )
            outbox.append(entries)
        return outbox.agent_id


def _wait(predicate, what: str, log: Path):
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; see {log}")
        time.sleep(0.02)
    return value


def _ingestion_rate(
    ctx, agent_id: str, log: Path, processes: dict[str, Callable[[], list[int]]]
) -> float:
    """Events per second from the first acknowledged batch to the last event's ack; the CPU
    each group of ``processes`` (their pids, listed at the start and at the end: PostgreSQL
    starts backends) used per 1,000 of those events goes to standard error."""
    from control_plane.core.context import tenant_context
    from control_plane.runs.models import IngestCursor

    def acked() -> int:
        row = IngestCursor.objects.filter(agent_id=agent_id).values("acked_sequence").first()
        return row["acked_sequence"] if row else 0

    with tenant_context(ctx):
        first = _wait(acked, "the first acknowledged batch", log)
        started = time.perf_counter()
        before = {name: _cpu_by_pid(pids()) for name, pids in processes.items()}
        _wait(lambda: acked() >= EVENTS, f"all {EVENTS} events to be acknowledged", log)
        elapsed = time.perf_counter() - started
        cpu = {}
        for name, pids in processes.items():
            after = _cpu_by_pid(pids())
            cpu[name] = sum(after[pid] - before[name].get(pid, 0.0) for pid in after)
    per_batch = ", ".join(
        f"{name} {seconds * 1000 / (EVENTS - first) * 1000:.0f} ms" for name, seconds in cpu.items()
    )
    print(
        f"ingestion: {EVENTS - first} events in {elapsed:.2f} s after the first batch "
        f"({first} events); CPU per 1,000 events: {per_batch}",
        file=sys.stderr,
    )
    return (EVENTS - first) / elapsed


def _launch_latencies(ctx, deployment, location, log: Path) -> list[float]:
    """Queued (created_at) -> first step_started, in ms, one run at a time."""
    from control_plane.catalog.models import LocationSnapshot
    from control_plane.core.context import tenant_context
    from control_plane.runs import services as run_services
    from control_plane.runs.models import TERMINAL_STATUSES, EventLogEntry, Run, RunStatus

    latencies: list[float] = []
    stages: list[tuple[float, float]] = []
    with tenant_context(ctx):
        _wait(
            lambda: (
                LocationSnapshot.objects.filter(code_location=location, is_current=True)
                .exclude(snapshot_id="")
                .exists()
            ),
            "the location's snapshot",
            log,
        )
        for n in range(LAUNCHES + WARMUP_LAUNCHES):
            run = run_services.launch_run(ctx=ctx, deployment=deployment, location=location)
            started = _wait(
                lambda run=run: (
                    EventLogEntry.objects.filter(run=run, event_type="step_started")
                    .values_list("timestamp", flat=True)
                    .first()
                ),
                f"run {run.id} to start",
                log,
            )
            run = _wait(
                lambda run=run: Run.objects.filter(pk=run.pk, status__in=TERMINAL_STATUSES).first(),
                f"run {run.id} to finish",
                log,
            )
            if run.status != RunStatus.SUCCESS:
                raise SystemExit(f"run {run.id} ended {run.status}: {run.reason}")
            if n >= WARMUP_LAUNCHES:
                latencies.append((started - run.created_at).total_seconds() * 1000)
                stages.append(
                    (
                        (run.dispatched_at - run.created_at).total_seconds() * 1000,
                        (started - run.dispatched_at).total_seconds() * 1000,
                    )
                )
    print(
        "launch: median queued -> LaunchRun sent "
        f"{statistics.median(a for a, _ in stages):.1f} ms (control plane), "
        f"LaunchRun sent -> first step started {statistics.median(b for _, b in stages):.1f} ms "
        "(agent: warm process forks the run)",
        file=sys.stderr,
    )
    return latencies


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    """User + system CPU seconds of each process so far (Linux; one gone is left out)."""
    seconds = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        seconds[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return seconds


def _cpu_seconds(pids: list[int]) -> float:
    return sum(_cpu_by_pid(pids).values())


def _postgres_pids(server) -> list[int]:
    """The postmaster and its children (backends, checkpointer, ...)."""
    postmaster = int((server.directory / "data" / "postmaster.pid").read_text().split()[0])
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == postmaster:
                children.append(int(stat.parent.name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return [postmaster, *children]


def _idle_cpu(processes: dict[str, list[int]]) -> dict[str, float]:
    """Percent of one core each group of processes uses over IDLE_SECONDS, nothing to do."""
    time.sleep(1.0)  # the last run's status changes and acks settle first
    before = {name: _cpu_seconds(pids) for name, pids in processes.items()}
    time.sleep(IDLE_SECONDS)
    return {
        name: round((_cpu_seconds(pids) - before[name]) / IDLE_SECONDS * 100, 1)
        for name, pids in processes.items()
    }


def _start(command: list[str], log: Path, **options) -> subprocess.Popen:
    with open(log, "ab") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, **options)


def main() -> None:
    if not AGENT.exists():
        raise SystemExit(f"{AGENT} is not installed (pip install -e . in this environment)")
    work = Path(tempfile.mkdtemp(prefix="assay-bench-agent-"))
    processes: list[subprocess.Popen] = []
    succeeded = False
    with throwaway_control_plane(ASSAY_HOME=str(work / "home"), GRPC_VERBOSITY="ERROR") as server:
        try:
            ctx, token, deployment, location, run = _seed()
            grpc_server = subprocess.Popen(
                [sys.executable, "-m", "control_plane", "grpc", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(grpc_server)
            line = grpc_server.stdout.readline()  # "serving the agent endpoint on grpc://host:port"
            address = line.strip().rsplit("//", 1)[-1]
            log = work / "bench.log"
            daemon = _start(
                [sys.executable, "-m", "control_plane", "run_daemon", "--loops", "queue"], log
            )
            processes.append(daemon)
            (work / "quick_defs.py").write_text(QUICK_DEFS)
            (work / "assay.yaml").write_text(
                f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
                "  tls:\n    insecure: true\n"
                f"state_dir: {work / 'state'}\n"
                "deployments:\n  - prod\n"
                "code_locations:\n  - name: quick\n    module: quick_defs\n"
            )
            agent_id = _fill_outbox(work / "state", str(run.id))
            agent = _start(
                [str(AGENT), "run", "--config", str(work / "assay.yaml")],
                log,
                env={**os.environ, "ASSAY_AGENT_TOKEN": token},
            )
            processes.append(agent)
            events_per_s = _ingestion_rate(
                ctx,
                agent_id,
                log,
                {
                    "gRPC server": lambda: [grpc_server.pid],
                    "PostgreSQL": lambda: _postgres_pids(server),
                    "agent": lambda: [agent.pid],
                },
            )
            latencies = _launch_latencies(ctx, deployment, location, log)
            idle = _idle_cpu(
                {
                    "grpc": [grpc_server.pid],
                    "daemon": [daemon.pid],
                    "postgres": _postgres_pids(server),
                }
            )
            print(
                f"idle, one agent connected: gRPC server {idle['grpc']}% of a core, run daemon "
                f"(queue loop) {idle['daemon']}%, PostgreSQL {idle['postgres']}%",
                file=sys.stderr,
            )
            print(
                json.dumps(
                    {
                        "events_per_s": round(events_per_s),
                        "launch_p50_ms": round(statistics.median(latencies), 1),
                        "launch_p99_ms": round(
                            statistics.quantiles(latencies, n=100, method="inclusive")[98], 1
                        ),
                    }
                )
            )
            succeeded = True
        finally:
            for process in reversed(processes):  # the agent first: it says goodbye
                process.terminate()
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
    if succeeded:  # else keep the logs the error message points at
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
