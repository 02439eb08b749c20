"""On PostgreSQL an agent's stream sends each command as soon as the transaction that made
it commits, woken by NOTIFY. The fallback poll is set to a minute here, so a command that
arrives within the test's wait came by its wake-up."""

from __future__ import annotations

import time
import uuid

import pytest
from django.utils import timezone

from assay.api.v1 import agent_pb2 as pb
from control_plane.agents import services as agent_services
from control_plane.catalog.models import AssetDefinition
from control_plane.core.context import tenant_context
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries, tokens
from tests.control_plane.agents.fake_agent import FakeAgent, start_server
from tests.control_plane.agents.test_servicer import snapshot_message
from tests.control_plane.factories import agent_token

pytestmark = pytest.mark.django_db(transaction=True)

RUNS = "/api/v1/orgs/acme/deployments/prod/runs/"
WAIT = 10.0  # seconds, far below the fallback poll


@pytest.fixture
def agent(acme, settings):
    settings.RUN_DISPATCH_FALLBACK_SECONDS = 60
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(acme.ctx(), deployments=[prod])
    tokens.verify(token)
    server, address = start_server()
    agent = FakeAgent(address, token)
    agent.hello()
    agent.expect("welcome")
    agent.send(location_snapshot=snapshot_message())
    deadline = time.monotonic() + 15
    while not AssetDefinition.objects.unscoped().exists():
        assert time.monotonic() < deadline, "the snapshot was not stored"
        time.sleep(0.02)
    # The stream's first look for commands is over once the answer to this arrives after it.
    probe = pb.RunStatusChange(
        id="probe", sequence=1, run_id=str(uuid.uuid4()), status=pb.RUN_STATUS_STARTED
    )
    agent.send(run_status_change=probe)
    assert agent.expect("ack").acked_sequence == 1
    yield agent
    agent.close()
    server.stop(grace=None)


def test_a_run_the_dequeuer_assigns_is_launched_and_a_termination_sent_at_once(acme, agent):
    client = acme.client()
    run_id = client.post(RUNS, {"location": "shop", "selection": "raw_orders"}, format="json")
    run_id = run_id.json()["id"]
    assert [str(run.id) for run in dequeue_runs()] == [run_id]
    assert agent.expect("launch_run", timeout=WAIT).run_id == run_id

    response = client.post(f"{RUNS}{run_id}/terminate/", {"reason": "stop"}, format="json")
    assert response.json()["status"] == "CANCELING"
    assert agent.expect("terminate_run", timeout=WAIT).run_id == run_id


def test_a_tick_request_and_a_reload_are_sent_at_once(acme, agent):
    with tenant_context(acme.ctx()):
        request = agent_services.request_tick(
            deployment=queries.get_deployment(name="prod"),
            location_name="shop",
            kind="sensor",
            name="new_files",
            evaluation_time=timezone.now(),
        )
    assert agent.expect("evaluate_tick", timeout=WAIT).request_id == str(request.id)

    response = acme.client().post("/api/v1/orgs/acme/deployments/prod/code-locations/shop/reload/")
    assert response.status_code == 202, response.content
    assert agent.expect("reload_location", timeout=WAIT).location_name == "shop"
