"""Metering: turn newly stored events into credits, in the ingest transaction.

Ingestion calls ``meter_events`` (through ``core.hooks``) with exactly the events it just
inserted, inside the transaction that inserts them: the credits commit with the events or
not at all, so a crash, a replay or a redelivery can neither lose nor double one. The ledger
is also unique on the event id, so even a listener called twice for one event bills once.
A failed step emits no materialization, so it costs nothing.

Only ledger rows are written here (new rows: no lock that another batch waits on); the
daemon's rollup loop (``billing.rollup``) folds them into ``DailyUsage``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from django.utils import timezone

from assay.execution.events import EventType
from billing.models import CreditLedgerEntry
from control_plane.core import bulk
from control_plane.core.context import TenantContext
from control_plane.core.hooks import StoredEvent

BILLED_EVENT_TYPES = frozenset({EventType.ASSET_MATERIALIZATION})

_LEDGER_COLUMNS = (
    "organization_id",
    "event_id",
    "run_id",
    "deployment_id",
    "code_location_id",
    "asset_key",
    "day",
    "credits",
    "recorded_at",
)


def _day(timestamp: Any) -> date:
    if isinstance(timestamp, datetime):
        return timestamp.astimezone(UTC).date()
    return datetime.fromtimestamp(float(timestamp), tz=UTC).date()


def meter_events(ctx: TenantContext, events: Sequence[StoredEvent], runs: Mapping) -> int:
    """Bill the newly stored ``events`` (``runs`` maps run id to run); returns credits added."""
    org_id = ctx.organization.pk
    now = timezone.now()
    rows = []
    for event in events:
        if event.event_type not in BILLED_EVENT_TYPES or not event.asset_key:
            continue
        run = runs[event.run_id]
        rows.append(
            (
                org_id,
                event.event_id,
                run.id,
                run.deployment_id,
                run.code_location_id,
                event.asset_key,
                _day(event.timestamp),
                1,
                now,
            )
        )
    if not rows:
        return 0
    return sum(row[7] for row in _insert_ledger(rows))


def _insert_ledger(rows: list[tuple]) -> list[tuple]:
    """Insert the ledger rows not there yet; returns exactly those."""
    table = CreditLedgerEntry._meta.db_table
    if bulk.is_supported():
        if bulk.copy_rows(table=table, columns=_LEDGER_COLUMNS, rows=rows):
            return rows
        inserted = {
            r[0]
            for r in bulk.insert_rows(
                table=table,
                columns=_LEDGER_COLUMNS,
                rows=rows,
                conflict_target=["event_id"],
                returning="event_id",
            )
        }
        return [row for row in rows if row[1] in inserted]
    stored = set(
        CreditLedgerEntry.objects.unscoped()
        .filter(event_id__in=[r[1] for r in rows])
        .values_list("event_id", flat=True)
    )
    fresh = [row for row in rows if row[1] not in stored]
    CreditLedgerEntry.objects.bulk_create(
        [CreditLedgerEntry(**dict(zip(_LEDGER_COLUMNS, row, strict=True))) for row in fresh]
    )
    return fresh
