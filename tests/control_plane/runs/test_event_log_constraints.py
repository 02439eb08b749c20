"""The database itself keeps the event log and its projections correct, whatever the writer:
one row per event id, and no event without its run (the indexes were trimmed for ingest
speed; these guarantees were not)."""

from __future__ import annotations

import uuid

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.catalog.models import Materialization
from control_plane.core.context import tenant_context
from control_plane.runs.models import EventLogEntry, Run
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db(transaction=True)  # foreign keys are checked at commit


@pytest.fixture
def run(acme) -> Run:
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    return queue_run(ctx, location=load_location(ctx, deployment=prod, name="shop"))


def entry(run: Run, *, event_id: str, run_id: uuid.UUID | None = None) -> EventLogEntry:
    return EventLogEntry(
        organization_id=run.organization_id,
        run_id=run_id or run.id,
        event_id=event_id,
        event_type="log",
        timestamp=timezone.now(),
    )


def test_an_event_id_is_stored_once_even_by_a_writer_that_skips_the_ingest_checks(acme, run):
    with tenant_context(acme.ctx()):
        entry(run, event_id="e-1").save()
        with pytest.raises(IntegrityError), transaction.atomic():
            entry(run, event_id="e-1").save()
        assert EventLogEntry.objects.filter(event_id="e-1").count() == 1


def test_an_event_of_a_run_that_does_not_exist_is_refused_at_commit(acme, run):
    with tenant_context(acme.ctx()):
        with pytest.raises(IntegrityError), transaction.atomic():
            entry(run, event_id="orphan", run_id=uuid.uuid4()).save()
        assert not EventLogEntry.objects.filter(event_id="orphan").exists()


def test_a_materialization_is_projected_once_per_event_id(acme, run):
    fields = {
        "organization_id": run.organization_id,
        "deployment_id": run.deployment_id,
        "asset_key": "raw_orders",
        "run_id": run.id,
        "event_id": "m-1",
        "timestamp": timezone.now(),
    }
    with tenant_context(acme.ctx()):
        Materialization.objects.create(**fields)
        with pytest.raises(IntegrityError), transaction.atomic():
            Materialization.objects.create(**fields)
        assert Materialization.objects.filter(event_id="m-1").count() == 1
