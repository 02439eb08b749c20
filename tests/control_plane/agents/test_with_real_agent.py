"""End to end with the real ``assay-agent`` (a subprocess) against the real servicer, the
dequeuer and PostgreSQL: register, launch through the REST API, materialize, and keep the
data itself on the agent's side (checked in every table and in every message the agent
sent, captured on the wire by a server interceptor)."""

from __future__ import annotations

import base64
import threading

import grpc
import pytest
from django.db import connection

from assay.api.v1 import agent_pb2 as pb
from control_plane.core.context import tenant_context
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from tests.control_plane.real_agent import real_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
SENTINEL = "SENTINEL-7f3a9c-customer-data"

PROJECT = f'''
from assay import AssetCheckResult, Definitions, asset, asset_check


@asset
def orders() -> list:
    return ["{SENTINEL}"]


@asset
def order_count(orders: list) -> int:
    return len(orders)


@asset_check(asset=order_count)
def has_orders(order_count: int) -> AssetCheckResult:
    return AssetCheckResult(passed=order_count > 0)


defs = Definitions(assets=[orders, order_count], asset_checks=[has_orders])
'''


class WireRecorder(grpc.ServerInterceptor):
    """Keeps the serialized bytes of every request message, exactly as they arrived.

    It wraps the method's request deserializer, so what it records is what crossed the
    network (after gRPC's own decompression), not a re-encoding of the parsed message.
    """

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self._lock = threading.Lock()

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.request_deserializer is None:
            return handler
        deserialize = handler.request_deserializer

        def recording(raw: bytes):
            with self._lock:
                self.messages.append(bytes(raw))
            return deserialize(raw)

        return handler._replace(request_deserializer=recording)


def encodings_of(text: str) -> list[bytes]:
    """Byte patterns ``text`` would leave in a message: UTF-8/16/32 (either byte order),
    hex, and base64 at each of the three alignments (the part not touched by neighbours)."""
    raw = text.encode()
    patterns = [raw, raw.hex().encode(), raw.hex().upper().encode()]
    patterns += [text.encode(codec) for codec in ("utf-16-le", "utf-16-be", "utf-32-le")]
    patterns.append(text.encode("utf-32-be"))
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)
        patterns.append(encoded[4:-4])
        patterns.append(base64.urlsafe_b64encode(b"\0" * shift + raw)[4:-4])
    return patterns


@pytest.fixture
def running_agent(acme, tmp_path):
    recorder = WireRecorder()
    with real_agent(acme, tmp_path, project=PROJECT, module="shop_defs", interceptors=[recorder]):
        yield tmp_path, recorder


def every_text_in_the_database() -> str:
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT coalesce(string_agg(t::text, '|'), '') FROM \"{table}\" t")
            chunks.append(cursor.fetchone()[0])
    return "\n".join(chunks)


def test_a_run_queued_through_the_api_is_executed_by_the_agent_and_data_stays_there(
    acme, running_agent
):
    workdir, recorder = running_agent
    client = acme.client()
    assets_url = "/api/v1/orgs/acme/deployments/prod/assets/"
    log = workdir / "agent.log"
    wait_for(lambda: client.get(assets_url).json()["results"], "the location's snapshot", log=log)
    response = client.post(
        "/api/v1/orgs/acme/deployments/prod/runs/", {"location": "shop"}, format="json"
    )
    assert response.status_code == 201, response.content
    run_id = response.json()["id"]

    def finished():
        with tenant_context(acme.ctx()):
            run = Run.objects.get(pk=run_id)
        return run if run.status in TERMINAL_STATUSES else None

    run = wait_for(finished, "the run to finish", log=log)
    assert run.status == RunStatus.SUCCESS, (run.reason, log.read_text()[-3000:])
    assets = {a["key"]: a for a in client.get(assets_url).json()["results"]}
    assert assets["orders"]["latest_materialization"]["run_id"] == run_id
    assert assets["order_count"]["checks"][0]["passed"] is True
    events = client.get(f"/api/v1/orgs/acme/deployments/prod/runs/{run_id}/events/").json()
    types = [e["event_type"] for e in events["results"]]
    assert types.count("asset_materialization") == 2 and "asset_check_evaluation" in types
    assert SENTINEL not in every_text_in_the_database()

    # The value was really produced, and kept on the agent's side by its IO manager ...
    stored = [p for p in (workdir / ".assay" / "storage").rglob("*") if p.is_file()]
    assert any(SENTINEL.encode() in p.read_bytes() for p in stored)
    # ... and the agent said everything it had to say: this run's events crossed the wire.
    sent = [pb.AgentMessage.FromString(raw) for raw in recorder.messages]
    on_the_wire = {
        e.id for m in sent if m.WhichOneof("message") == "event_batch" for e in m.event_batch.events
    } | {m.run_status_change.id for m in sent if m.WhichOneof("message") == "run_status_change"}
    assert {e["event_id"] for e in events["results"]} <= on_the_wire
    assert any(m.WhichOneof("message") == "location_snapshot" for m in sent)
    # Not one message the agent sent holds the value, in any encoding.
    leaks = [
        (n, pattern)
        for n, raw in enumerate(recorder.messages)
        for pattern in encodings_of(SENTINEL)
        if pattern in raw
    ]
    assert not leaks, f"messages that carry the sentinel: {leaks}"
