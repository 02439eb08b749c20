"""Event ingestion: idempotent on event id, acknowledged up to the highest contiguous sequence,
projected into the catalog in the same transaction."""

from __future__ import annotations

import uuid

import pytest

from control_plane.catalog.models import (
    AssetCheckStatus,
    AssetPartitionStatus,
    CheckEvaluation,
    Materialization,
)
from control_plane.core.context import tenant_context
from control_plane.runs.ingest import (
    IncomingEvent,
    IncomingStatusChange,
    acked_sequence,
    ingest_events,
    ingest_status_change,
)
from control_plane.runs.models import EventLogEntry, Run, RunStatus
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(acme) -> Run:
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_location(ctx, deployment=prod, name="shop")
    return queue_run(ctx, location=location, selection="raw_orders+", tags={"max_retries": "1"})


def event(run: Run, sequence: int, type_: str = "step_started", **fields) -> IncomingEvent:
    event_id = fields.pop("event_id", uuid.uuid4().hex)
    payload = {
        "id": event_id,
        "type": type_,
        "run_id": str(run.id),
        "timestamp": 1_700_000_000.0 + sequence,
        "asset_key": fields.get("asset_key"),
        "step_key": fields.get("asset_key"),
        "partition": fields.get("partition"),
        "payload": fields.get("payload", {}),
    }
    return IncomingEvent(event_id, sequence, str(run.id), type_, payload["timestamp"], payload)


def ingest(acme, run, events):
    with tenant_context(acme.ctx()):
        return ingest_events(
            ctx=acme.ctx(), agent_id="agent-1", deployment_ids={run.deployment_id}, events=events
        )


def test_replaying_a_batch_inserts_nothing_twice_and_acks_the_same_sequence(acme, run):
    batch = [
        event(run, 1),
        event(run, 2, "asset_materialization", asset_key="raw_orders", payload={"metadata": {}}),
        event(
            run,
            3,
            "asset_check_evaluation",
            asset_key="clean_orders",
            payload={"check_name": "orders_not_empty", "passed": True, "severity": "ERROR"},
        ),
    ]
    first = ingest(acme, run, batch)
    again = ingest(acme, run, batch)
    assert (first.inserted, first.acked_sequence) == (3, 3)
    assert (again.inserted, again.acked_sequence) == (0, 3)
    with tenant_context(acme.ctx()):
        assert EventLogEntry.objects.count() == 3
        assert Materialization.objects.count() == 1
        assert CheckEvaluation.objects.count() == 1


def test_ack_stops_at_a_gap_until_the_missing_sequence_arrives(acme, run):
    assert ingest(acme, run, [event(run, 1), event(run, 2), event(run, 4)]).acked_sequence == 2
    with tenant_context(acme.ctx()):
        change = IncomingStatusChange(uuid.uuid4().hex, 3, str(run.id), RunStatus.STARTING, "", 1.0)
        result = ingest_status_change(
            ctx=acme.ctx(), agent_id="agent-1", deployment_ids={run.deployment_id}, change=change
        )
        assert result.acked_sequence == 4
        assert acked_sequence(ctx=acme.ctx(), agent_id="agent-1") == 4


def test_a_replayed_event_with_a_new_sequence_is_still_stored_once(acme, run):
    first = event(run, 1, "asset_materialization", asset_key="raw_orders")
    replay = IncomingEvent(
        first.event_id, 2, first.run_id, first.event_type, first.timestamp, first.payload
    )
    assert ingest(acme, run, [first]).inserted == 1
    assert ingest(acme, run, [replay]).inserted == 0
    with tenant_context(acme.ctx()):
        assert EventLogEntry.objects.count() == 1
        assert acked_sequence(ctx=acme.ctx(), agent_id="agent-1") == 2


def test_a_batch_holding_one_stored_event_stores_the_new_ones_and_reprojects_nothing(acme, run):
    stored = event(run, 1, "asset_materialization", asset_key="raw_orders", partition="2024-01-01")
    ingest(acme, run, [stored])
    ingest(
        acme, run, [event(run, 2, "step_failed", asset_key="raw_orders", partition="2024-01-01")]
    )
    replayed = IncomingEvent(
        stored.event_id, 3, stored.run_id, stored.event_type, stored.timestamp, stored.payload
    )
    fresh = event(run, 4, "asset_materialization", asset_key="clean_orders", partition="2024-01-01")

    result = ingest(acme, run, [replayed, fresh, event(run, 5)])

    assert (result.inserted, result.acked_sequence) == (2, 5)
    with tenant_context(acme.ctx()):
        assert EventLogEntry.objects.count() == 4
        assert sorted(Materialization.objects.values_list("asset_key", flat=True)) == [
            "clean_orders",
            "raw_orders",
        ]
        statuses = dict(AssetPartitionStatus.objects.values_list("asset_key", "status"))
        # The replay of the older materialization does not hide the failure after it.
        assert statuses == {"raw_orders": "failed", "clean_orders": "materialized"}


def test_materializations_and_failures_update_the_latest_partition_status(acme, run):
    ingest(
        acme,
        run,
        [
            event(run, 1, "asset_materialization", asset_key="raw_orders", partition="2024-01-01"),
            event(run, 2, "step_failed", asset_key="raw_orders", partition="2024-01-02"),
            event(
                run,
                3,
                "asset_check_evaluation",
                asset_key="clean_orders",
                payload={"check_name": "orders_not_empty", "passed": False, "severity": "WARN"},
            ),
        ],
    )
    ingest(
        acme,
        run,
        [event(run, 4, "asset_materialization", asset_key="raw_orders", partition="2024-01-02")],
    )
    with tenant_context(acme.ctx()):
        statuses = dict(
            AssetPartitionStatus.objects.values_list("partition", "status").order_by("partition")
        )
        assert statuses == {"2024-01-01": "materialized", "2024-01-02": "materialized"}
        check = AssetCheckStatus.objects.get()
        assert (check.check_name, check.passed, check.severity) == (
            "orders_not_empty",
            False,
            "WARN",
        )


def test_an_observation_marks_its_partition_present_as_the_local_instance_does(acme, run):
    # One rule (assay.execution.events.status_effect): observed source data is there.
    ingest(
        acme,
        run,
        [
            event(run, 1, "step_failed", asset_key="raw_orders", partition="2024-01-01"),
            event(run, 2, "asset_observation", asset_key="raw_orders", partition="2024-01-01"),
        ],
    )
    with tenant_context(acme.ctx()):
        assert dict(AssetPartitionStatus.objects.values_list("partition", "status")) == {
            "2024-01-01": "materialized"
        }


def test_events_of_a_run_in_a_deployment_the_agent_does_not_serve_are_rejected(acme, run):
    with tenant_context(acme.ctx()):
        result = ingest_events(
            ctx=acme.ctx(), agent_id="agent-1", deployment_ids={-1}, events=[event(run, 1)]
        )
        assert [r.code for r in result.rejected] == ["unknown_run"]
        assert result.acked_sequence == 1  # delivered, so the agent can drop it
        assert not EventLogEntry.objects.exists()


def test_terminal_status_is_final_and_a_failure_with_retries_left_queues_a_new_attempt(acme, run):
    def change(sequence, status):
        with tenant_context(acme.ctx()):
            ingest_status_change(
                ctx=acme.ctx(),
                agent_id="agent-1",
                deployment_ids={run.deployment_id},
                change=IncomingStatusChange(
                    uuid.uuid4().hex,
                    sequence,
                    str(run.id),
                    status,
                    "process exited with signal 9",
                    2.0,
                ),
            )

    change(1, RunStatus.STARTED)
    change(2, RunStatus.FAILURE)
    change(3, RunStatus.STARTED)
    with tenant_context(acme.ctx()):
        run.refresh_from_db()
        assert run.status == RunStatus.FAILURE
        retry = Run.objects.get(parent_run=run)
        assert (retry.status, retry.retry_count) == (RunStatus.QUEUED, 1)


def test_nul_and_lone_surrogates_are_stored_replaced_and_the_agent_is_not_blocked(acme, run):
    """PostgreSQL stores neither: refused, the batch would be replayed forever."""
    import json

    failure = event(
        run,
        1,
        "asset_materialization",
        asset_key="raw_\x00orders",
        partition="2024-01-01\x00",
        payload={"metadata": {"path\x00": {"type": "text", "value": "/data/\udcff.csv"}}},
    )
    as_sent = IncomingEvent(  # as the agent sends it: JSON text, NUL and surrogate escaped
        failure.event_id,
        1,
        failure.run_id,
        failure.event_type,
        failure.timestamp,
        failure.payload,
        json.dumps(failure.payload),
    )
    emoji = event(run, 2, "step_started", payload={"note": "ok \U0001f600"})

    assert (ingest(acme, run, [as_sent, emoji]).acked_sequence) == 2
    with tenant_context(acme.ctx()):
        change = IncomingStatusChange(
            uuid.uuid4().hex, 3, str(run.id), RunStatus.FAILURE, "killed\x00 by \udc80", 2.0
        )
        result = ingest_status_change(
            ctx=acme.ctx(), agent_id="agent-1", deployment_ids={run.deployment_id}, change=change
        )
        assert result.acked_sequence == 3
        stored = EventLogEntry.objects.get(sequence=1)
        assert (stored.asset_key, stored.partition) == ("raw_\ufffdorders", "2024-01-01\ufffd")
        assert stored.payload["payload"]["metadata"] == {
            "path\ufffd": {"type": "text", "value": "/data/\ufffd.csv"}
        }
        assert EventLogEntry.objects.get(sequence=2).payload["payload"]["note"] == "ok \U0001f600"
        materialization = Materialization.objects.get()
        assert materialization.asset_key == "raw_\ufffdorders"
        run.refresh_from_db()
        assert run.reason == "killed\ufffd by \ufffd"
        assert EventLogEntry.objects.get(sequence=3).payload["reason"] == "killed\ufffd by \ufffd"
