"""Agent -> control plane: event ingestion rate and run launch latency.

Skeleton with a stub agent (the generated gRPC client driven by this script) against the real
servicer (``python -m control_plane grpc`` in its own process), the real dequeuer and a
throwaway PostgreSQL; the real ``assay-agent`` replaces the
stub once it is complete. Prints one JSON line: ``events_per_s`` (events durably ingested and
acknowledged per second, batches of 1,000), ``launch_p50_ms`` and ``launch_p99_ms`` (run
queued -> ``LaunchRun`` received by the stub; with the real agent: -> first step started).
"""

from __future__ import annotations

import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVENTS = int(os.environ.get("BENCH_EVENTS", "100000"))
BATCH = 1000
LAUNCHES = int(os.environ.get("BENCH_LAUNCHES", "200"))
REAL_AGENT = Path(sys.executable).with_name("assay-agent")


class StubAgent:
    """One agent stream: messages in through a queue, control messages out through another."""

    def __init__(self, address: str, token: str) -> None:
        import grpc

        from assay.api.v1 import agent_pb2_grpc

        self.channel = grpc.insecure_channel(address)
        self.outgoing: queue.Queue = queue.Queue()
        self.incoming: queue.Queue = queue.Queue()
        stub = agent_pb2_grpc.AgentServiceStub(self.channel)
        responses = stub.Connect(
            iter(self.outgoing.get, None), metadata=[("authorization", f"Bearer {token}")]
        )
        threading.Thread(target=self._drain, args=(responses,), daemon=True).start()

    def _drain(self, responses) -> None:
        import grpc

        try:
            for message in responses:
                self.incoming.put((time.perf_counter(), message))
        except grpc.RpcError:
            pass  # closed by close(), or the server went away: expect() then times out

    def expect(self, case: str):
        while True:
            at, message = self.incoming.get(timeout=60)
            if message.WhichOneof("message") == case:
                return at, getattr(message, case)

    def close(self) -> None:
        self.outgoing.put(None)
        self.channel.close()


def _seed():
    from assay import Definitions, asset
    from assay.snapshot import build_snapshot
    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.tenancy import services
    from control_plane.tenancy.models import Deployment, User

    @asset
    def events_table() -> int:
        return 0

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
    return ctx, token, build_snapshot(Definitions(assets=[events_table]))


def _measure(address: str, ctx, token: str, snapshot) -> dict[str, float]:
    from assay.api.v1 import agent_pb2 as pb
    from control_plane.core.context import tenant_context
    from control_plane.runs.models import Run
    from control_plane.tenancy.models import CodeLocation, Deployment

    agent = StubAgent(address, token)
    send = agent.outgoing.put
    send(
        pb.AgentMessage(
            hello=pb.Hello(
                agent_id=uuid.uuid4().hex,
                agent_version="bench",
                protocol_version=1,
                deployments=["prod"],
                code_locations=["bench"],
            )
        )
    )
    agent.expect("welcome")
    data = snapshot.to_json().encode()
    send(
        pb.AgentMessage(
            location_snapshot=pb.LocationSnapshot(
                deployment="prod",
                location_name="bench",
                status=pb.LOCATION_STATUS_OK,
                snapshot_json=data,
                snapshot_id=snapshot.snapshot_id,
                snapshot_version=1,
            )
        )
    )
    send(pb.AgentMessage(heartbeat=pb.Heartbeat(sequence=1)))
    with tenant_context(ctx):
        while not CodeLocation.objects.filter(name="bench").exists():
            time.sleep(0.01)
        location = CodeLocation.objects.get(name="bench")
        deployment = Deployment.objects.get(name="prod")
        run = Run.objects.create(
            organization=ctx.organization, deployment=deployment, code_location=location
        )

    # Ingestion: EVENTS events in batches, a materialization every tenth, until the last Ack.
    batches = []
    sequence = 0
    for start in range(0, EVENTS, BATCH):
        events = []
        for i in range(start, min(start + BATCH, EVENTS)):
            sequence += 1
            kind = "asset_materialization" if i % 10 == 0 else "log"
            payload = {
                "id": uuid.uuid4().hex,
                "type": kind,
                "run_id": str(run.id),
                "timestamp": time.time(),
                "asset_key": "events_table" if kind != "log" else None,
                "step_key": "events_table",
                "partition": str(i) if kind != "log" else None,
                "payload": {"metadata": {"rows": i}} if kind != "log" else {"message": "x"},
            }
            events.append(
                pb.Event(
                    id=payload["id"],
                    sequence=sequence,
                    run_id=payload["run_id"],
                    event_type=kind,
                    timestamp=payload["timestamp"],
                    payload_json=json.dumps(payload).encode(),
                )
            )
        batches.append(pb.AgentMessage(event_batch=pb.EventBatch(events=events)))
    started = time.perf_counter()
    for batch in batches:
        send(batch)
    acked = 0
    while acked < sequence:
        _, ack = agent.expect("ack")
        acked = ack.acked_sequence
    events_per_s = EVENTS / (time.perf_counter() - started)

    agent.close()

    # Launch latency: queue one run at a time; a daemon thread dequeues like run_daemon.
    stop = threading.Event()

    def daemon() -> None:
        from django.db import connection

        from control_plane.runs.queue import dequeue_runs

        while not stop.is_set():
            if not dequeue_runs():
                time.sleep(0.02)
        connection.close()

    thread = threading.Thread(target=daemon, daemon=True)
    thread.start()
    try:
        if REAL_AGENT.exists() and not os.environ.get("BENCH_STUB_LAUNCH"):
            latencies = _launch_with_real_agent(address, ctx, token, deployment)
        else:
            latencies = _launch_with_stub(address, ctx, token, deployment, location)
    finally:
        stop.set()
        thread.join()
    latencies.sort()
    return {
        "events_per_s": round(events_per_s),
        "launch_p50_ms": round(statistics.median(latencies), 1),
        "launch_p99_ms": round(latencies[int(len(latencies) * 0.99) - 1], 1),
    }


def _launch_with_stub(address, ctx, token, deployment, location) -> list[float]:
    """Queued -> LaunchRun received by a stub agent."""
    from assay.api.v1 import agent_pb2 as pb
    from control_plane.core.context import tenant_context
    from control_plane.runs import services as run_services

    agent = StubAgent(address, token)
    agent.outgoing.put(
        pb.AgentMessage(
            hello=pb.Hello(
                agent_id=uuid.uuid4().hex,
                agent_version="bench",
                protocol_version=1,
                deployments=["prod"],
                code_locations=["bench"],
            )
        )
    )
    agent.expect("welcome")
    latencies = []
    with tenant_context(ctx):
        for _ in range(LAUNCHES):
            queued = time.perf_counter()
            run_services.launch_run(ctx=ctx, deployment=deployment, location=location)
            received, _ = agent.expect("launch_run")
            latencies.append((received - queued) * 1000)
    agent.close()
    print("launch latency: queued -> LaunchRun at a stub agent", file=sys.stderr)
    return latencies


QUICK_DEFS = """
from assay import Definitions, asset


@asset
def quick() -> int:
    return 1


defs = Definitions(assets=[quick])
"""


def _launch_with_real_agent(address, ctx, token, deployment) -> list[float]:
    """Queued -> first step started, with ``assay-agent run`` serving a warm location."""
    from control_plane.core.context import tenant_context
    from control_plane.runs import services as run_services
    from control_plane.runs.models import TERMINAL_STATUSES, EventLogEntry, Run
    from control_plane.tenancy.models import CodeLocation

    work = Path(tempfile.mkdtemp(prefix="assay-bench-agent-"))
    (work / "quick_defs.py").write_text(QUICK_DEFS)
    (work / "assay.yaml").write_text(
        f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
        "  tls:\n    insecure: true\n"
        f"state_dir: {work / 'state'}\n"
        "deployments:\n  - prod\n"
        "code_locations:\n  - name: quick\n    module: quick_defs\n"
    )
    log = (work / "agent.log").open("w")
    agent = subprocess.Popen(
        [str(REAL_AGENT), "run", "--config", str(work / "assay.yaml")],
        env={**os.environ, "ASSAY_AGENT_TOKEN": token},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    latencies: list[float] = []
    stages: list[tuple[float, float]] = []
    try:
        with tenant_context(ctx):
            deadline = time.monotonic() + 60
            while not CodeLocation.objects.filter(name="quick").exists():
                if time.monotonic() > deadline:
                    raise SystemExit(f"the agent did not register; see {work / 'agent.log'}")
                time.sleep(0.05)
            location = CodeLocation.objects.get(name="quick")
            for n in range(LAUNCHES + 3):  # the first runs warm up, not counted
                run = run_services.launch_run(ctx=ctx, deployment=deployment, location=location)
                deadline = time.monotonic() + 60
                while True:
                    started = (
                        EventLogEntry.objects.filter(run=run, event_type="step_started")
                        .values_list("timestamp", flat=True)
                        .first()
                    )
                    if started is not None:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"run {run.id} did not start; see {work / 'agent.log'}")
                    time.sleep(0.005)
                if n >= 3:
                    latencies.append((started - run.created_at).total_seconds() * 1000)
                    run.refresh_from_db()
                    stages.append(
                        (
                            (run.dispatched_at - run.created_at).total_seconds() * 1000,
                            (started - run.dispatched_at).total_seconds() * 1000,
                        )
                    )
                while Run.objects.get(pk=run.pk).status not in TERMINAL_STATUSES:
                    time.sleep(0.01)
    finally:
        agent.terminate()
        agent.wait(30)
    print("launch latency: queued -> first step started (assay-agent run)", file=sys.stderr)
    control_plane_ms = statistics.median(a for a, _ in stages)
    agent_ms = statistics.median(b for _, b in stages)
    print(
        f"median split: queued -> LaunchRun sent {control_plane_ms:.1f} ms (control plane), "
        f"LaunchRun sent -> first step started {agent_ms:.1f} ms (agent)",
        file=sys.stderr,
    )
    return latencies


def main() -> None:
    from control_plane.testing import postgres

    server = postgres.start()
    os.environ.update(
        {
            "DATABASE_URL": server.url,
            "ASSAY_SECRET_KEY": "bench-" + "x" * 50,
            "ASSAY_HOME": tempfile.mkdtemp(prefix="assay-bench-"),
            "ASSAY_LOG_LEVEL": "WARNING",
            "GRPC_VERBOSITY": "ERROR",
            "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        }
    )
    grpc_process = None
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        ctx, token, snapshot = _seed()
        grpc_process = subprocess.Popen(
            [sys.executable, "-m", "control_plane", "grpc", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        line = grpc_process.stdout.readline()  # "serving the agent endpoint on grpc://host:port"
        address = line.strip().rsplit("//", 1)[-1]
        result = _measure(address, ctx, token, snapshot)
        print(json.dumps(result))
    finally:
        from django.db import connections

        if grpc_process is not None:
            grpc_process.terminate()
            grpc_process.wait(10)
        connections.close_all()
        server.stop()


if __name__ == "__main__":
    main()
