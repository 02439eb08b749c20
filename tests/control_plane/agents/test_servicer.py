"""``AgentService.Connect`` over real gRPC on loopback, with the generated stub as the agent."""

from __future__ import annotations

import json
import time
import uuid

import grpc
import pytest

from assay.api.v1 import agent_pb2 as pb
from control_plane.agents.models import AgentSession
from control_plane.audit.models import AuditEvent
from control_plane.catalog.models import AssetDefinition, LocationSnapshot, Materialization
from control_plane.core.context import tenant_context
from control_plane.runs.models import EventLogEntry, Run, RunStatus
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries, services, tokens
from tests.control_plane.agents.fake_agent import FakeAgent, start_server
from tests.control_plane.api.test_tenant_isolation import database_fingerprint
from tests.control_plane.factories import agent_token, load_location, queue_run, snapshot_json
from tests.control_plane.real_agent import wait_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def address():
    server, address = start_server()
    yield address
    server.stop(grace=None)


@pytest.fixture
def world(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
        branch = services.create_deployment(ctx=ctx, name="branch")
    token = agent_token(ctx, deployments=[prod])
    tokens.verify(token)  # last_used_at is fresh, so later checks compare clean fingerprints
    return {"acme": acme, "prod": prod, "branch": branch, "token": token}


def snapshot_message(deployment: str = "prod", location: str = "shop") -> pb.LocationSnapshot:
    data, snapshot_id = snapshot_json()
    return pb.LocationSnapshot(
        deployment=deployment,
        location_name=location,
        status=pb.LOCATION_STATUS_OK,
        snapshot_json=data,
        snapshot_id=snapshot_id,
        snapshot_version=1,
    )


def without_audit(fingerprint: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in fingerprint.items() if k != "audit_auditevent"}


@pytest.mark.parametrize("kind", ["none", "garbage", "unknown", "revoked", "user"])
def test_bad_tokens_end_the_call_unauthenticated_and_write_nothing(world, address, kind):
    acme = world["acme"]
    bad = {
        "none": None,
        "garbage": "not-a-token",
        "unknown": "assay_a_000000000000_" + "x" * 43,
        "revoked": agent_token(acme.ctx(), deployments=[world["prod"]]),
        "user": acme.admin_token,
    }[kind]
    if kind == "revoked":
        with tenant_context(acme.ctx()):
            row = tokens.verify(bad)
            services.revoke_token(ctx=acme.ctx(), token=row)
    audit_before = AuditEvent.objects.unscoped().count()
    before = database_fingerprint()
    agent = FakeAgent(address, bad)
    agent.hello()
    assert agent.wait_closed() == grpc.StatusCode.UNAUTHENTICATED
    assert without_audit(database_fingerprint()) == without_audit(before)
    new_actions = list(
        AuditEvent.objects.unscoped()
        .order_by("seq")[audit_before:]
        .values_list("action", flat=True)
    )
    assert new_actions == (["token.rejected"] if kind == "revoked" else [])


def test_hello_naming_a_deployment_the_token_does_not_cover_is_denied(world, address):
    before = database_fingerprint()
    agent = FakeAgent(address, world["token"])
    agent.hello(deployments=["prod", "branch"])
    assert agent.wait_closed() == grpc.StatusCode.PERMISSION_DENIED
    assert database_fingerprint() == before


def test_a_snapshot_for_an_uncovered_deployment_is_denied_and_not_stored(world, address):
    agent = FakeAgent(address, world["token"])
    agent.hello()
    agent.expect("welcome")
    agent.send(location_snapshot=snapshot_message(deployment="branch"))
    assert agent.wait_closed() == grpc.StatusCode.PERMISSION_DENIED
    assert not LocationSnapshot.objects.unscoped().exists()


@pytest.mark.parametrize(
    ("first", "code"),
    [
        ({"heartbeat": pb.Heartbeat(sequence=1)}, grpc.StatusCode.INVALID_ARGUMENT),
        ({"hello": pb.Hello(agent_id="a", protocol_version=1)}, grpc.StatusCode.INVALID_ARGUMENT),
        (
            {
                "hello": pb.Hello(
                    agent_id="a", protocol_version=2, deployments=["prod"], code_locations=["shop"]
                )
            },
            grpc.StatusCode.FAILED_PRECONDITION,
        ),
    ],
    ids=["heartbeat-first", "hello-without-deployments", "protocol-2"],
)
def test_a_malformed_first_message_ends_the_call_and_writes_nothing(world, address, first, code):
    before = database_fingerprint()
    agent = FakeAgent(address, world["token"])
    agent.send(**first)
    assert agent.wait_closed() == code
    assert database_fingerprint() == before


def test_a_batch_with_a_malformed_event_is_rejected_whole(world, address):
    agent = FakeAgent(address, world["token"])
    agent.hello()
    agent.expect("welcome")
    good = pb.Event(
        id="e1",
        sequence=1,
        run_id=str(uuid.uuid4()),
        event_type="log",
        timestamp=1.0,
        payload_json=b"{}",
    )
    bad = pb.Event(
        id="e2",
        sequence=2,
        run_id=good.run_id,
        event_type="log",
        timestamp=1.0,
        payload_json=b"{not json",
    )
    agent.send(event_batch=pb.EventBatch(events=[good, bad]))
    assert agent.wait_closed() == grpc.StatusCode.INVALID_ARGUMENT
    assert not EventLogEntry.objects.unscoped().exists()


def test_an_agent_registers_its_location_runs_a_queued_run_and_is_acked(world, address):
    acme = world["acme"]
    agent = FakeAgent(address, world["token"])
    agent.hello()
    welcome = agent.expect("welcome")
    assert welcome.acked_sequence == 0 and welcome.heartbeat_interval_seconds > 0
    agent.send(location_snapshot=snapshot_message())
    agent.send(heartbeat=pb.Heartbeat(sequence=1))
    deadline = time.monotonic() + 15
    while not AssetDefinition.objects.unscoped().exists():
        assert time.monotonic() < deadline, "the snapshot was not stored"
        time.sleep(0.02)

    response = acme.client().post(
        "/api/v1/orgs/acme/deployments/prod/runs/",
        {"location": "shop", "selection": "clean_orders", "tags": {"team": "growth"}},
        format="json",
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]
    assert [str(r.id) for r in dequeue_runs()] == [run_id]
    launch = agent.expect("launch_run")
    assert (launch.run_id, launch.deployment, launch.location_name) == (run_id, "prod", "shop")
    assert launch.asset_selection == "clean_orders" and dict(launch.tags) == {"team": "growth"}

    def status(sequence: int, value: int) -> pb.AgentMessage:
        return pb.RunStatusChange(
            id=uuid.uuid4().hex,
            sequence=sequence,
            run_id=run_id,
            status=value,
            timestamp=time.time(),
        )

    materialization = {
        "id": "m1",
        "type": "asset_materialization",
        "run_id": run_id,
        "timestamp": time.time(),
        "asset_key": "clean_orders",
        "step_key": "clean_orders",
        "partition": None,
        "payload": {"metadata": {"rows": 3}},
    }
    agent.send(run_status_change=status(1, pb.RUN_STATUS_STARTED))
    agent.send(
        event_batch=pb.EventBatch(
            events=[
                pb.Event(
                    id="m1",
                    sequence=2,
                    run_id=run_id,
                    event_type="asset_materialization",
                    timestamp=materialization["timestamp"],
                    payload_json=json.dumps(materialization).encode(),
                ),
            ]
        )
    )
    agent.send(run_status_change=status(3, pb.RUN_STATUS_SUCCEEDED))
    acked = 0
    while acked < 3:
        acked = agent.expect("ack").acked_sequence
    agent.close()

    with tenant_context(acme.ctx()):
        run = Run.objects.get(pk=run_id)
        assert run.status == RunStatus.SUCCESS
        assert Materialization.objects.get().asset_key == "clean_orders"
    assets = acme.client().get("/api/v1/orgs/acme/deployments/prod/assets/").json()["results"]
    latest = {a["key"]: a["latest_materialization"] for a in assets}
    assert latest["clean_orders"]["run_id"] == run_id and latest["raw_orders"] is None

    again = FakeAgent(address, world["token"])
    again.hello()
    assert again.expect("welcome").acked_sequence == 3
    again.close()
    assert AgentSession.objects.unscoped().filter(connected=True).count() == 0


def test_terminating_a_launched_run_sends_terminate_run_to_its_agent(world, address):
    acme = world["acme"]
    agent = FakeAgent(address, world["token"])
    agent.hello()
    agent.expect("welcome")
    agent.send(location_snapshot=snapshot_message())
    deadline = time.monotonic() + 15
    while not AssetDefinition.objects.unscoped().exists():
        assert time.monotonic() < deadline, "the snapshot was not stored"
        time.sleep(0.02)
    runs = "/api/v1/orgs/acme/deployments/prod/runs/"
    body = {"location": "shop", "selection": "raw_orders"}
    run_id = acme.client().post(runs, body, format="json").json()["id"]
    dequeue_runs()
    assert agent.expect("launch_run").run_id == run_id
    response = acme.client().post(f"{runs}{run_id}/terminate/", {"reason": "stop"}, format="json")
    assert response.json()["status"] == "CANCELING"
    terminate = agent.expect("terminate_run")
    assert (terminate.run_id, terminate.reason) == (run_id, "stop")
    agent.send(
        run_status_change=pb.RunStatusChange(
            id="c1", sequence=1, run_id=run_id, status=pb.RUN_STATUS_CANCELED, timestamp=1.0
        )
    )
    assert agent.expect("ack").acked_sequence == 1
    agent.send(
        run_status_change=pb.RunStatusChange(
            id="c2", sequence=2, run_id=str(uuid.uuid4()), status=pb.RUN_STATUS_STARTED
        )
    )
    notice = agent.expect("notice")
    assert (notice.code, notice.related_sequence) == ("unknown_run", 2)
    agent.close()
    with tenant_context(acme.ctx()):
        assert Run.objects.get(pk=run_id).status == RunStatus.CANCELED


def test_revoking_the_token_ends_an_open_stream_at_the_next_heartbeat(world, address):
    acme = world["acme"]
    agent = FakeAgent(address, world["token"])
    agent.hello()
    agent.expect("welcome")
    with tenant_context(acme.ctx()):
        services.revoke_token(ctx=acme.ctx(), token=tokens.verify(world["token"]))
    agent.send(heartbeat=pb.Heartbeat(sequence=1))
    assert agent.wait_closed() == grpc.StatusCode.UNAUTHENTICATED


def test_a_hello_naming_an_invalid_location_is_refused_naming_it(world, address):
    """Location names follow the API's rule, so an agent cannot register a name the
    console could never address."""
    agent = FakeAgent(address, world["token"])
    agent.hello(locations=("shop", "../etc"))
    assert agent.wait_closed() == grpc.StatusCode.INVALID_ARGUMENT
    assert "'../etc'" in agent.error.details()


def test_a_launch_carries_the_keys_of_the_locations_dynamic_partitions(world, address):
    """The agent holds no dynamic partitions: a run over a range of them, or an asset
    reading all of them, executes over the keys the launch brings."""
    from tests.control_plane.dynamic_project import load_crm

    acme = world["acme"]
    load_crm(acme.ctx(), world["prod"], customer_keys=["acme", "globex", "initech"])
    agent = FakeAgent(address, world["token"])
    agent.hello(locations=("crm",))
    agent.expect("welcome")
    agent.send(heartbeat=pb.Heartbeat(sequence=1))
    response = acme.client().post(
        "/api/v1/orgs/acme/deployments/prod/runs/",
        {"location": "crm", "selection": "invoices", "partition_key": "globex"},
        format="json",
    )
    assert response.status_code == 201, response.content
    deadline = time.monotonic() + 15
    while not dequeue_runs():
        assert time.monotonic() < deadline, "the run was not assigned"
        time.sleep(0.02)
    launch = agent.expect("launch_run")
    assert launch.partition_key == "globex"
    assert {k: list(v.keys) for k, v in launch.dynamic_partitions.items()} == {
        "customers": ["acme", "globex", "initech"]
    }


def test_a_stream_that_hangs_up_after_welcome_is_closed_and_given_no_run(world, address):
    """As `assay-agent init`/`doctor` do: Hello, Welcome, then the channel closes with the
    request stream still open. The session must not stay "connected" to capture a run."""
    acme, prod = world["acme"], world["prod"]
    location = load_location(acme.ctx(), deployment=prod, name="shop")
    checker = FakeAgent(address, world["token"])
    checker.hello(agent_id="init-check")
    checker.expect("welcome")
    checker.channel.close()  # cancels the call, as leaving `with open_channel(...)` does
    with tenant_context(acme.ctx()):
        session = AgentSession.objects.get(agent_id="init-check")
        wait_for(
            lambda: not AgentSession.objects.get(pk=session.pk).connected,
            "the hung-up session to be closed",
        )
        run = queue_run(acme.ctx(), location=location)
        dequeue_runs()
        run.refresh_from_db()
    assert run.status == RunStatus.QUEUED and run.agent_session_id is None
