"""Batched, idempotent ingestion of what agents send: events and run status changes.

Per agent, every message carries a sequence number from one counter. One transaction per
batch: lock the agent's cursor row (so two streams of one agent serialize), insert the events
not stored yet (multi-row ``INSERT ... ON CONFLICT DO NOTHING`` on the event id), update the
catalog projections, and move the cursor to the highest contiguous sequence, which is what
the agent is acknowledged. A replay therefore inserts nothing twice and loses nothing.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from control_plane.catalog.services import project_events
from control_plane.core import bulk, hooks
from control_plane.core.context import TenantContext
from control_plane.runs import alert_triggers, services
from control_plane.runs.models import EventLogEntry, IngestCursor, Run, RunStatus

STATUS_CHANGE = "run_status_change"


@dataclass(frozen=True)
class IncomingEvent:
    """One ``assay.execution.events.Event`` as received (``payload`` is its ``to_dict()``)."""

    event_id: str
    sequence: int
    run_id: str
    event_type: str
    timestamp: float
    payload: dict[str, Any]
    payload_json: str = ""  # ``payload`` as received, stored as is when given


@dataclass(frozen=True)
class IncomingStatusChange:
    change_id: str
    sequence: int
    run_id: str
    status: RunStatus | None  # None: a status this control plane does not know
    reason: str
    timestamp: float


@dataclass(frozen=True)
class Rejection:
    """A sequenced message whose effect did not happen (reported to the agent as a Notice)."""

    sequence: int
    code: str
    message: str


@dataclass
class IngestResult:
    acked_sequence: int
    inserted: int = 0
    rejected: list[Rejection] = field(default_factory=list)


def _at(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


# PostgreSQL stores neither NUL nor a lone UTF-16 surrogate (in text or in jsonb): one in
# an event would fail its batch at every replay, and nothing more from that agent would
# ever be ingested. Both become U+FFFD, as an undecodable byte does.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Their escapes in JSON text (a valid surrogate pair is decoded into one character, so
# only lone surrogates are left to replace once parsed).
_UNSTORABLE_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def storable_text(value: str) -> str:
    """``value`` with NUL and lone surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub("\ufffd", value)


def _storable(value: Any) -> Any:
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, dict):
        return {storable_text(str(k)): _storable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_storable(v) for v in value]
    return value


def _storable_payload(event: IncomingEvent) -> tuple[dict[str, Any], str]:
    """The event's payload and its JSON text, as received unless they hold what PostgreSQL
    cannot store (one regular-expression search of the text per event)."""
    text = event.payload_json or json.dumps(event.payload)
    if not _UNSTORABLE_ESCAPE.search(text):
        return event.payload, text
    payload = _storable(event.payload)
    return payload, json.dumps(payload)


def acked_sequence(*, ctx: TenantContext, agent_id: str) -> int:
    """Everything at or below this sequence is stored (``Welcome.acked_sequence``)."""
    cursor = IngestCursor.objects.filter(agent_id=agent_id).values("acked_sequence").first()
    return cursor["acked_sequence"] if cursor else 0


def _lock_cursor(ctx: TenantContext, agent_id: str) -> IngestCursor:
    """The agent's cursor row, locked: two streams of one agent ingest one after the other."""
    cursor = IngestCursor.objects.select_for_update().filter(agent_id=agent_id).first()
    if cursor is not None:
        return cursor
    IngestCursor.objects.bulk_create(
        [IngestCursor(organization=ctx.organization, agent_id=agent_id)], ignore_conflicts=True
    )
    return IngestCursor.objects.select_for_update().get(agent_id=agent_id)


def _advance(cursor: IngestCursor, sequences: list[int]) -> None:
    """Move the cursor over every contiguous sequence now stored; keep the rest pending."""
    pending = {s for s in cursor.pending if s > cursor.acked_sequence}
    pending.update(s for s in sequences if s > cursor.acked_sequence)
    acked = cursor.acked_sequence
    while acked + 1 in pending:
        acked += 1
        pending.discard(acked)
    if acked == cursor.acked_sequence and sorted(pending) == cursor.pending:
        return
    IngestCursor.objects.filter(pk=cursor.pk).update(
        acked_sequence=acked, pending=sorted(pending), updated_at=timezone.now()
    )
    cursor.acked_sequence, cursor.pending = acked, sorted(pending)


def _runs_by_id(run_ids: set[str], deployment_ids: set[int], *, lock: bool = False) -> dict:
    keys = []
    for run_id in run_ids:
        try:
            keys.append(uuid.UUID(run_id))
        except ValueError:
            continue
    queryset = Run.objects.filter(pk__in=keys, deployment_id__in=deployment_ids)
    if lock:
        queryset = queryset.select_for_update()
    return {str(run.id): run for run in queryset}


def _already_seen(cursor: IngestCursor, sequence: int) -> bool:
    return sequence <= cursor.acked_sequence or sequence in cursor.pending


_COLUMNS = (
    "organization_id",
    "run_id",
    "event_id",
    "agent_id",
    "sequence",
    "event_type",
    "asset_key",
    "partition",
    "timestamp",
    "payload",
    "ingested_at",
)


@dataclass(slots=True)
class _Entry:
    """An event-log row about to be inserted (lighter than a model instance at 20k/s)."""

    run_id: uuid.UUID
    event_id: str
    sequence: int
    event_type: str
    asset_key: str
    partition: str
    timestamp: datetime
    payload: dict[str, Any]
    payload_json: str


def _insert_new(
    ctx: TenantContext, agent_id: str, events: list[IncomingEvent], runs: dict[str, Run]
) -> list[_Entry]:
    """Insert the events not stored yet; returns exactly those (for the projections).

    PostgreSQL: ``core.bulk.copy_rows`` (COPY straight into the table: events reaching here
    passed the sequence check, so they are new in all but rare cases), else
    ``core.bulk.insert_rows`` (``INSERT ... ON CONFLICT (event_id) DO NOTHING RETURNING
    event_id``). Elsewhere: look up stored ids, then a multi-row insert.
    """
    now = timezone.now()
    entries: dict[str, _Entry] = {}
    for event in events:
        if event.event_id not in entries:
            payload, payload_json = _storable_payload(event)
            entries[event.event_id] = _Entry(
                run_id=runs[event.run_id].id,
                event_id=event.event_id,
                sequence=event.sequence,
                event_type=event.event_type[:40],
                asset_key=str(payload.get("asset_key") or "")[:500],
                partition=str(payload.get("partition") or "")[:255],
                timestamp=_at(event.timestamp),
                payload=payload,
                payload_json=payload_json,
            )
    if not entries:
        return []
    org_id = ctx.organization.pk
    if not bulk.is_supported():
        stored = set(
            EventLogEntry.objects.filter(event_id__in=list(entries)).values_list(
                "event_id", flat=True
            )
        )
        fresh = [e for key, e in entries.items() if key not in stored]
        EventLogEntry.objects.bulk_create(
            [
                EventLogEntry(
                    organization_id=org_id,
                    agent_id=agent_id,
                    ingested_at=now,
                    **{f: getattr(e, f) for f in _Entry.__slots__ if f != "payload_json"},
                )
                for e in fresh
            ],
            ignore_conflicts=True,
            batch_size=1000,
        )
        return fresh
    rows = [
        (
            org_id,
            e.run_id,
            e.event_id,
            agent_id,
            e.sequence,
            e.event_type,
            e.asset_key,
            e.partition,
            e.timestamp,
            e.payload_json,
            now,
        )
        for e in entries.values()
    ]
    table = EventLogEntry._meta.db_table
    if bulk.copy_rows(table=table, columns=_COLUMNS, rows=rows):
        return list(entries.values())
    inserted = {
        row[0]
        for row in bulk.insert_rows(
            table=table,
            columns=_COLUMNS,
            rows=rows,
            conflict_target=["event_id"],
            returning="event_id",
        )
    }
    return [e for key, e in entries.items() if key in inserted]


def ingest_events(
    *, ctx: TenantContext, agent_id: str, deployment_ids: set[int], events: list[IncomingEvent]
) -> IngestResult:
    """Store a batch of events once each; returns the new Ack and what was rejected.

    An event for a run this agent may not report on (unknown, or in a deployment it does not
    serve) is rejected, not stored; its sequence still counts as delivered.
    """
    with transaction.atomic():
        cursor = _lock_cursor(ctx, agent_id)
        fresh = [e for e in events if not _already_seen(cursor, e.sequence)]
        result = IngestResult(acked_sequence=cursor.acked_sequence)
        if fresh:
            runs = _runs_by_id({e.run_id for e in fresh}, deployment_ids)
            accepted: list[IncomingEvent] = []
            for event in fresh:
                if event.run_id in runs:
                    accepted.append(event)
                else:
                    result.rejected.append(
                        Rejection(event.sequence, "unknown_run", f"no run {event.run_id!r} here")
                    )
            entries = _insert_new(ctx, agent_id, accepted, runs)
            evaluations = project_events(
                ctx=ctx,
                events=[e for e in entries if e.asset_key],
                deployment_of={run.id: run.deployment_id for run in runs.values()},
            )
            if evaluations:  # failing checks open incidents, recovered ones resolve theirs
                alert_triggers.checks_evaluated(evaluations=evaluations)
            hooks.events_stored(ctx, entries, {run.id: run for run in runs.values()})
            result.inserted = len(entries)
        _advance(cursor, [e.sequence for e in events])
        result.acked_sequence = cursor.acked_sequence
    return result


def ingest_status_change(
    *, ctx: TenantContext, agent_id: str, deployment_ids: set[int], change: IncomingStatusChange
) -> IngestResult:
    """Apply a run status change once (idempotent on its id), through the same cursor."""
    reason = storable_text(change.reason)
    with transaction.atomic():
        cursor = _lock_cursor(ctx, agent_id)
        result = IngestResult(acked_sequence=cursor.acked_sequence)
        if not _already_seen(cursor, change.sequence):
            run = _runs_by_id({change.run_id}, deployment_ids, lock=True).get(change.run_id)
            if change.status is None:
                result.rejected.append(
                    Rejection(change.sequence, "unknown_status", "run status is unspecified")
                )
            elif run is None:
                result.rejected.append(
                    Rejection(change.sequence, "unknown_run", f"no run {change.run_id!r} here")
                )
            elif not EventLogEntry.objects.filter(event_id=change.change_id).exists():
                EventLogEntry.objects.create(
                    organization=ctx.organization,
                    run=run,
                    event_id=change.change_id,
                    agent_id=agent_id,
                    sequence=change.sequence,
                    event_type=STATUS_CHANGE,
                    timestamp=_at(change.timestamp),
                    payload={"status": change.status.value, "reason": reason},
                )
                services.apply_status(
                    run=run, status=change.status, reason=reason, at=_at(change.timestamp)
                )
                result.inserted = 1
        _advance(cursor, [change.sequence])
        result.acked_sequence = cursor.acked_sequence
    return result
