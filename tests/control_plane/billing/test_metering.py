"""Metering: each materialization is one credit, written in the ingest transaction, keyed by
event id so replays never double; rollups per org/deployment/location/asset/day."""

from __future__ import annotations

import uuid
from unittest import mock

import pytest
from django.db.models import Sum

from billing.models import CreditLedgerEntry, DailyUsage
from billing.rollup import roll_up_usage
from control_plane.core.context import tenant_context
from control_plane.runs.ingest import IncomingEvent, ingest_events
from control_plane.runs.models import EventLogEntry, Run
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

# Transactional: the rollup folds in only what committed transactions wrote.
pytestmark = pytest.mark.django_db(transaction=True)

DAY = 1_700_000_000.0  # 2023-11-14 22:13 UTC


@pytest.fixture
def run(acme) -> Run:
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_location(ctx, deployment=prod, name="shop")
    return queue_run(ctx, location=location, selection="raw_orders+")


def event(run: Run, sequence: int, type_: str, asset_key: str | None = None, at: float = DAY):
    event_id = uuid.uuid4().hex
    payload = {
        "id": event_id,
        "type": type_,
        "run_id": str(run.id),
        "timestamp": at + sequence,
        "asset_key": asset_key,
        "step_key": asset_key,
        "partition": None,
        "payload": {},
    }
    return IncomingEvent(event_id, sequence, str(run.id), type_, at + sequence, payload)


def ingest(acme, run, events, agent_id="agent-1"):
    with tenant_context(acme.ctx()):
        return ingest_events(
            ctx=acme.ctx(), agent_id=agent_id, deployment_ids={run.deployment_id}, events=events
        )


def credits(acme) -> tuple[int, int]:
    """(ledger, rollups) after a rollup pass."""
    roll_up_usage()
    with tenant_context(acme.ctx()):
        ledger = CreditLedgerEntry.objects.aggregate(n=Sum("credits"))["n"] or 0
        rollup = DailyUsage.objects.aggregate(n=Sum("credits"))["n"] or 0
    return ledger, rollup


def test_replaying_the_same_batch_twice_bills_one_credit(acme, run):
    batch = [
        event(run, 1, "step_started", "raw_orders"),
        event(run, 2, "asset_materialization", "raw_orders"),
        event(run, 3, "step_succeeded", "raw_orders"),
    ]
    ingest(acme, run, batch)
    ingest(acme, run, batch)
    assert credits(acme) == (1, 1)
    with tenant_context(acme.ctx()):
        usage = DailyUsage.objects.get()
    assert (usage.asset_key, str(usage.day), usage.deployment_id) == (
        "raw_orders",
        "2023-11-14",
        run.deployment_id,
    )
    assert usage.code_location_id == run.code_location_id


def test_redelivery_under_new_sequence_numbers_still_bills_once(acme, run):
    """A reconnecting agent may resend an event under a later sequence (or another agent
    id after a reinstall): the event id decides, so it still bills once."""
    first = event(run, 1, "asset_materialization", "raw_orders")
    ingest(acme, run, [first])
    resent = IncomingEvent(
        first.event_id, 7, first.run_id, first.event_type, first.timestamp, first.payload
    )
    ingest(acme, run, [resent], agent_id="agent-2")
    assert credits(acme) == (1, 1)


def test_failed_steps_cost_nothing_and_only_materializations_bill(acme, run):
    ingest(
        acme,
        run,
        [
            event(run, 1, "step_started", "raw_orders"),
            event(run, 2, "step_failed", "raw_orders"),
            event(run, 3, "asset_observation", "raw_orders"),
            event(run, 4, "asset_check_evaluation", "clean_orders"),
            event(run, 5, "log", None),
        ],
    )
    assert credits(acme) == (0, 0)


def test_rollups_add_up_per_asset_and_day(acme, run):
    ingest(
        acme,
        run,
        [
            event(run, 1, "asset_materialization", "raw_orders"),
            event(run, 2, "asset_materialization", "raw_orders"),
            event(run, 3, "asset_materialization", "clean_orders"),
            event(run, 4, "asset_materialization", "raw_orders", at=DAY + 86_400),
        ],
    )
    ingest(acme, run, [event(run, 5, "asset_materialization", "raw_orders")])
    roll_up_usage()
    with tenant_context(acme.ctx()):
        rows = sorted(DailyUsage.objects.values_list("asset_key", "day", "credits"))
    assert [(a, str(d), c) for a, d, c in rows] == [
        ("clean_orders", "2023-11-14", 1),
        ("raw_orders", "2023-11-14", 3),
        ("raw_orders", "2023-11-15", 1),
    ]
    assert credits(acme) == (5, 5)


def test_a_failed_batch_bills_nothing(acme, run):
    """The ledger commits with the events: if the batch's transaction fails after metering,
    neither the events nor the credits are kept, and the replay bills exactly once."""
    batch = [event(run, 1, "asset_materialization", "raw_orders")]
    with (
        mock.patch("control_plane.runs.ingest._advance", side_effect=RuntimeError("crash")),
        pytest.raises(RuntimeError),
    ):
        ingest(acme, run, batch)
    assert credits(acme) == (0, 0)
    ingest(acme, run, batch)
    assert credits(acme) == (1, 1)
    with tenant_context(acme.ctx()):
        assert EventLogEntry.objects.count() == 1


def test_another_organization_sees_none_of_the_credits(acme, org_factory, run):
    ingest(acme, run, [event(run, 1, "asset_materialization", "raw_orders")])
    other = org_factory()
    assert credits(other) == (0, 0)
    assert credits(acme) == (1, 1)
