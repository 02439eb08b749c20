"""The durable outbox: everything the agent must deliver is written here before it is sent,
as entries made from a run's SDK events and status changes (`event_entry`, `status_entry`).

Each appended entry gets the next per-agent sequence number (1, 2, 3, ...), committed to
SQLite in the same transaction as the entry, so a number is never handed out twice, not
even after a crash or after every entry was acknowledged and deleted. Entries leave only
when the control plane acknowledges them (`ack`); until then `pending` replays them.

Durability: WAL journal with `synchronous=FULL`. In WAL mode `NORMAL` already survives a
killed process, but an OS crash or power loss may roll back the last commits; that would
lose events AND hand their sequence numbers out again, and the control plane (which
may have ingested the originals) would then drop the new events as already acknowledged.
`FULL` fsyncs the WAL on every commit; appends are batched (one transaction per call), so
that cost is paid per batch, not per event.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from agent.payload_cap import cap_event_dict

FILE_NAME = "outbox.sqlite3"
_SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS entry (
    sequence  INTEGER PRIMARY KEY,  -- per-agent, assigned from meta.last_sequence
    id        TEXT    NOT NULL,     -- stable id (event id / status change id)
    kind      TEXT    NOT NULL,     -- EntryKind
    run_id    TEXT    NOT NULL,
    type      TEXT    NOT NULL,     -- event type, or run status
    timestamp REAL    NOT NULL,     -- seconds since the Unix epoch
    payload   BLOB    NOT NULL      -- UTF-8 JSON
);
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


class OutboxError(Exception):
    """The outbox was used in a way that would lose or misnumber entries."""


class EntryKind(StrEnum):
    """Which protocol message an entry becomes (both share one sequence)."""

    EVENT = "event"  # an Event inside an EventBatch
    RUN_STATUS_CHANGE = "run_status_change"  # a RunStatusChange


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """Something to deliver: a run event or a run status change."""

    id: str
    kind: EntryKind
    run_id: str
    type: str
    timestamp: float
    payload: bytes


@dataclass(frozen=True, slots=True)
class PendingEntry:
    """An entry as stored, with the sequence number it was given."""

    sequence: int
    entry: OutboxEntry


# -- what a run puts in the outbox: SDK events and run status changes ---------------------
# Both kinds share the one per-agent sequence. Payloads are the JSON that crosses the
# network, so events are size-capped here, before they are stored.


class RunStatus(StrEnum):
    """A run's status as the agent sees it (the protocol's `RunStatus`, by name)."""

    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)


def event_entry(event: dict[str, Any]) -> OutboxEntry:
    """An outbox entry for one `Event.to_dict()`; oversized metadata is truncated and marked."""
    capped = cap_event_dict(event)
    return OutboxEntry(
        id=str(capped["id"]),
        kind=EntryKind.EVENT,
        run_id=str(capped["run_id"]),
        type=str(capped["type"]),
        timestamp=float(capped["timestamp"]),
        payload=_json(capped),
    )


def status_entry(run_id: str, status: RunStatus, reason: str = "") -> OutboxEntry:
    """An outbox entry for a run status change, with a fresh idempotency id."""
    return OutboxEntry(
        id=uuid.uuid4().hex,
        kind=EntryKind.RUN_STATUS_CHANGE,
        run_id=run_id,
        type=str(status),
        timestamp=time.time(),
        payload=_json({"reason": reason}),
    )


def status_reason(entry: OutboxEntry) -> str:
    return str(json.loads(entry.payload or b"{}").get("reason", ""))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class Outbox:
    """One agent's outbox file in its state directory; safe to share between threads."""

    def __init__(self, state_dir: str | os.PathLike[str]) -> None:
        directory = Path(state_dir)
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = directory / FILE_NAME
        self._lock = threading.Lock()
        # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=10000")
        self._create_schema()

    def _create_schema(self) -> None:
        with self._lock, self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            version = self._meta("schema_version")
            if version is None:
                self._set_meta("schema_version", _SCHEMA_VERSION)
                self._set_meta("agent_id", uuid.uuid4().hex)
                self._set_meta("last_sequence", "0")
                self._set_meta("acked_sequence", "0")
            elif version != _SCHEMA_VERSION:
                raise OutboxError(
                    f"{self.path} has outbox schema {version}; this agent reads "
                    f"{_SCHEMA_VERSION} (upgrade the agent, or keep the old one running "
                    "until its outbox is empty)"
                )

    # -- reads --------------------------------------------------------------------------

    @property
    def agent_id(self) -> str:
        """This installation's stable id, created with the outbox: sequences are scoped to it."""
        with self._lock:
            return self._meta("agent_id") or ""

    @property
    def last_sequence(self) -> int:
        """The highest sequence ever assigned (0 before the first append)."""
        with self._lock:
            return int(self._meta("last_sequence") or 0)

    @property
    def acked_sequence(self) -> int:
        """The highest sequence the control plane has acknowledged."""
        with self._lock:
            return int(self._meta("acked_sequence") or 0)

    def pending(self, after_seq: int = 0, limit: int = 1000) -> list[PendingEntry]:
        """Unacknowledged entries with sequence > `after_seq`, oldest first, at most `limit`."""
        with self._lock:
            rows = self._db.execute(
                "SELECT sequence, id, kind, run_id, type, timestamp, payload FROM entry "
                "WHERE sequence > ? ORDER BY sequence LIMIT ?",
                (after_seq, limit),
            ).fetchall()
        return [
            PendingEntry(
                sequence=row[0],
                entry=OutboxEntry(
                    id=row[1],
                    kind=EntryKind(row[2]),
                    run_id=row[3],
                    type=row[4],
                    timestamp=row[5],
                    payload=row[6],
                ),
            )
            for row in rows
        ]

    def pending_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM entry").fetchone()[0])

    # -- writes -------------------------------------------------------------------------

    def append(self, entries: Sequence[OutboxEntry]) -> list[int]:
        """Durably store `entries` in one transaction; returns their new sequence numbers."""
        if not entries:
            return []
        with self._lock, self._transaction():
            first = int(self._meta("last_sequence") or 0) + 1
            sequences = list(range(first, first + len(entries)))
            self._db.executemany(
                "INSERT INTO entry (sequence, id, kind, run_id, type, timestamp, payload) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (seq, e.id, str(e.kind), e.run_id, e.type, e.timestamp, bytes(e.payload))
                    for seq, e in zip(sequences, entries, strict=True)
                ],
            )
            self._set_meta("last_sequence", str(sequences[-1]))
        return sequences

    def ack(self, up_to_seq: int) -> int:
        """Forget every entry with sequence <= `up_to_seq`; returns how many were deleted.

        Acks may repeat or arrive late (a lower number than one already seen): both are
        harmless. An ack above the last assigned sequence means the other side is confused
        about which agent it talks to, so it is refused rather than silently accepted.
        """
        with self._lock, self._transaction():
            last = int(self._meta("last_sequence") or 0)
            if up_to_seq > last:
                raise OutboxError(
                    f"acknowledgement of sequence {up_to_seq} but only {last} were ever "
                    f"assigned by agent {self._meta('agent_id')}"
                )
            deleted = self._db.execute("DELETE FROM entry WHERE sequence <= ?", (up_to_seq,))
            if up_to_seq > int(self._meta("acked_sequence") or 0):
                self._set_meta("acked_sequence", str(up_to_seq))
            return deleted.rowcount

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Outbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- helpers (call with the lock held) ------------------------------------------------

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else row[0]

    def _set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, rolled back on any exception (nothing half-written)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if exc_type is None:
            self._db.execute("COMMIT")
        else:
            self._db.execute("ROLLBACK")
