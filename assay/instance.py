"""The local instance: an append-only event log in SQLite, with status projections.

`materialize(..., instance=LocalInstance(...))` records every event of a run here;
`assay automation tick` reads the projections through the
:class:`~assay.automation.StatusView` protocol and keeps its cursor here. It is also
the local :class:`~assay.partitions.DynamicPartitionsStore`: the keys of dynamic
partitions (added by a sensor, or by hand) live here. Events are facts (primary
key: the event's stable id, so recording one twice changes nothing); the status
tables are derived from them in the same transaction. A step that covered several
partitions (a single-run backfill) is one row holding its serialised subset, read
back with the asset's partitions definition when a status is asked for, so a run of
10,000 partitions writes one row, not 10,000.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from assay.automation.status import MaterializationRecord
from assay.automation.subsets import AssetSubset, subset_of_keys, subset_of_known_keys
from assay.definitions.asset_key import AssetKey
from assay.errors import AssayError
from assay.execution.events import Event, EventType, StatusEffect, status_effect
from assay.partitions import PartitionsDefinition, PartitionsError, PartitionsSubset
from assay.partitions.static import validate_partition_key

DEFAULT_FILENAME = "instance.db"
AUTOMATION_CURSOR = "automation_cursor"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_logs (
    storage_id INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    run_id TEXT NOT NULL,
    type TEXT NOT NULL,
    asset_key TEXT,
    partition TEXT,
    timestamp REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS event_logs_run ON event_logs (run_id, storage_id);
CREATE TABLE IF NOT EXISTS asset_partitions (
    asset_key TEXT NOT NULL,
    partition TEXT NOT NULL,
    materialized_storage_id INTEGER,
    materialized_at REAL,
    materialized_run_id TEXT,
    code_version TEXT,
    in_progress_run_id TEXT,
    failed_storage_id INTEGER,
    PRIMARY KEY (asset_key, partition)
);
CREATE TABLE IF NOT EXISTS asset_partition_sets (
    storage_id INTEGER PRIMARY KEY,
    asset_key TEXT NOT NULL,
    run_id TEXT NOT NULL,
    step_key TEXT,
    status TEXT NOT NULL,
    subset TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS asset_partition_sets_asset ON asset_partition_sets (asset_key, status);
CREATE INDEX IF NOT EXISTS asset_partition_sets_run ON asset_partition_sets (run_id);
CREATE TABLE IF NOT EXISTS asset_changes (
    asset_key TEXT PRIMARY KEY,
    storage_id INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS asset_changes_storage ON asset_changes (storage_id);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    started_at REAL,
    ended_at REAL
);
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS dynamic_partitions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    partitions_def_name TEXT NOT NULL,
    partition_key TEXT NOT NULL,
    UNIQUE (partitions_def_name, partition_key)
);
"""

# No partition is stored as '' so (asset_key, partition) can be a primary key.
_NO_PARTITION = ""
# Statuses of asset_partition_sets rows: the partitions of one step that covered several.
_IN_PROGRESS, _FAILED = "in_progress", "failed"


class InstanceError(AssayError):
    """The instance's database could not be opened or used."""


def default_instance_path() -> Path:
    """``$ASSAY_HOME/instance.db``, else ``./.assay/instance.db``."""
    home = os.environ.get("ASSAY_HOME")
    return Path(home or ".assay", DEFAULT_FILENAME)


class LocalInstance:
    """Event log and status store in one SQLite file (or in memory: ``ephemeral()``)."""

    def __init__(self, path: str | os.PathLike[str] | None = None) -> None:
        target = default_instance_path() if path is None else path
        self.path = str(target)
        try:
            if self.path != ":memory:":
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise InstanceError(f"cannot open the instance at {self.path}: {exc}") from exc
        self._lock = threading.RLock()
        self._in_transaction = False  # read and written only by the thread holding _lock

    @classmethod
    def ephemeral(cls) -> LocalInstance:
        """An in-memory instance: same code, nothing on disk (for tests)."""
        return cls(":memory:")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> LocalInstance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        """Writes made inside commit together or not at all (a tick's dynamic partition
        changes, say); other threads wait until it ends."""
        with self._write():
            yield

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Cursor]:
        """One write transaction, or the one this thread already has open."""
        with self._lock:
            cur = self._conn.cursor()
            if self._in_transaction:
                yield cur
                return
            cur.execute("BEGIN IMMEDIATE")
            self._in_transaction = True
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False

    # -- recording -------------------------------------------------------------------
    def store_event(self, event: Event) -> bool:
        """Append one event and update the status; False when it was already recorded."""
        return self.store_events([event]) == 1

    def store_events(self, events: Iterable[Event]) -> int:
        """Append events in one transaction; returns how many were new."""
        stored = 0
        with self._write() as cur:
            for event in events:
                stored += self._append(cur, event)
        return stored

    def _append(self, cur: sqlite3.Cursor, event: Event) -> int:
        key = event.asset_key.to_user_string() if event.asset_key else None
        cur.execute(
            "INSERT OR IGNORE INTO event_logs "
            "(event_id, run_id, type, asset_key, partition, timestamp, body) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                event.id,
                event.run_id,
                event.type.value,
                key,
                event.partition,
                event.timestamp,
                json.dumps(event.to_dict(), separators=(",", ":")),
            ),
        )
        if cur.rowcount == 0:
            return 0
        storage_id = cur.lastrowid
        self._project(cur, event, key, storage_id)
        return 1

    def _project(self, cur: sqlite3.Cursor, event: Event, key: str | None, sid: int | None) -> None:
        """Fold one new event into the status tables (same transaction)."""
        kind = event.type
        effect = status_effect(kind)
        partition = event.partition if event.partition is not None else _NO_PARTITION
        touched: set[str] = set()
        if effect is StatusEffect.RUN_STARTED:
            cur.execute(
                "INSERT OR REPLACE INTO runs (run_id, status, started_at) VALUES (?, 'started', ?)",
                (event.run_id, event.timestamp),
            )
        elif effect is StatusEffect.RUN_ENDED:
            status = "succeeded" if kind is EventType.RUN_SUCCEEDED else "failed"
            cur.execute(
                "INSERT INTO runs (run_id, status, ended_at) VALUES (?, ?, ?) "
                "ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, "
                "ended_at = excluded.ended_at",
                (event.run_id, status, event.timestamp),
            )
            rows = cur.execute(
                "SELECT DISTINCT asset_key FROM asset_partitions WHERE in_progress_run_id = ? "
                "UNION SELECT asset_key FROM asset_partition_sets "
                "WHERE run_id = ? AND status = ?",
                (event.run_id, event.run_id, _IN_PROGRESS),
            ).fetchall()
            cur.execute(
                "UPDATE asset_partitions SET in_progress_run_id = NULL "
                "WHERE in_progress_run_id = ?",
                (event.run_id,),
            )
            cur.execute(
                "DELETE FROM asset_partition_sets WHERE run_id = ? AND status = ?",
                (event.run_id, _IN_PROGRESS),
            )
            touched.update(r[0] for r in rows)
        elif key is None:
            return
        elif event.partition is None and "partition_subset" in event.payload:
            self._project_partition_set(cur, event, key, sid)
            touched.add(key)
        elif effect is StatusEffect.MATERIALIZED:
            code_version = event.payload.get("code_version")
            cur.execute(
                "INSERT INTO asset_partitions (asset_key, partition, materialized_storage_id, "
                "materialized_at, materialized_run_id, code_version) VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (asset_key, partition) DO UPDATE SET "
                "materialized_storage_id = excluded.materialized_storage_id, "
                "materialized_at = excluded.materialized_at, "
                "materialized_run_id = excluded.materialized_run_id, "
                "code_version = excluded.code_version, "
                "in_progress_run_id = NULL, failed_storage_id = NULL",
                (key, partition, sid, event.timestamp, event.run_id, code_version),
            )
            touched.add(key)
        elif effect is StatusEffect.IN_PROGRESS:
            cur.execute(
                "INSERT INTO asset_partitions (asset_key, partition, in_progress_run_id) "
                "VALUES (?, ?, ?) ON CONFLICT (asset_key, partition) DO UPDATE SET "
                "in_progress_run_id = excluded.in_progress_run_id",
                (key, partition, event.run_id),
            )
            touched.add(key)
        elif effect is StatusEffect.FAILED:
            cur.execute(
                "INSERT INTO asset_partitions (asset_key, partition, failed_storage_id) "
                "VALUES (?, ?, ?) ON CONFLICT (asset_key, partition) DO UPDATE SET "
                "failed_storage_id = excluded.failed_storage_id, in_progress_run_id = NULL",
                (key, partition, sid),
            )
            touched.add(key)
        elif effect is StatusEffect.PROGRESS_ENDED:
            cur.execute(
                "UPDATE asset_partitions SET in_progress_run_id = NULL "
                "WHERE asset_key = ? AND partition = ? AND in_progress_run_id = ?",
                (key, partition, event.run_id),
            )
            touched.add(key)
        for asset_key in touched:
            cur.execute(
                "INSERT INTO asset_changes (asset_key, storage_id) VALUES (?, ?) "
                "ON CONFLICT (asset_key) DO UPDATE SET storage_id = excluded.storage_id",
                (asset_key, sid),
            )

    def _project_partition_set(
        self, cur: sqlite3.Cursor, event: Event, key: str, sid: int | None
    ) -> None:
        """A step over several partitions: started marks them all in progress, failed marks
        them failed (until each is materialized again), and any end clears "in progress"."""
        effect = status_effect(event.type)
        if effect not in (
            StatusEffect.IN_PROGRESS,
            StatusEffect.PROGRESS_ENDED,
            StatusEffect.FAILED,
        ):
            return
        subset = json.dumps(event.payload["partition_subset"], separators=(",", ":"))
        if effect is StatusEffect.IN_PROGRESS:
            cur.execute(
                "INSERT INTO asset_partition_sets "
                "(storage_id, asset_key, run_id, step_key, status, subset) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, key, event.run_id, event.step_key, _IN_PROGRESS, subset),
            )
            return
        cur.execute(
            "DELETE FROM asset_partition_sets "
            "WHERE asset_key = ? AND run_id = ? AND step_key IS ? AND status = ?",
            (key, event.run_id, event.step_key, _IN_PROGRESS),
        )
        if effect is StatusEffect.FAILED:
            # An older failure of exactly these partitions says nothing more.
            cur.execute(
                "DELETE FROM asset_partition_sets WHERE asset_key = ? AND status = ? "
                "AND subset = ?",
                (key, _FAILED, subset),
            )
            cur.execute(
                "INSERT INTO asset_partition_sets "
                "(storage_id, asset_key, run_id, step_key, status, subset) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (sid, key, event.run_id, event.step_key, _FAILED, subset),
            )

    def _fetchall(self, sql: str, args: tuple[object, ...] | list[object] = ()) -> list[tuple]:
        """One read; serialised with writes, since the connection is shared across threads."""
        with self._lock:
            return self._conn.execute(sql, args).fetchall()

    # -- reading events --------------------------------------------------------------
    def get_events(self, *, run_id: str | None = None, after_storage_id: int = 0) -> list[Event]:
        """Recorded events in log order, optionally of one run."""
        sql = "SELECT body FROM event_logs WHERE storage_id > ?"
        args: list[object] = [after_storage_id]
        if run_id is not None:
            sql += " AND run_id = ?"
            args.append(run_id)
        rows = self._fetchall(sql + " ORDER BY storage_id", args)
        return [Event.from_dict(json.loads(body)) for (body,) in rows]

    def run_status(self, run_id: str) -> str | None:
        """``started``, ``succeeded`` or ``failed``; None for an unknown run."""
        rows = self._fetchall("SELECT status FROM runs WHERE run_id = ?", (run_id,))
        return rows[0][0] if rows else None

    def in_progress_run_ids(self) -> list[str]:
        rows = self._fetchall(
            "SELECT run_id FROM runs WHERE status = 'started' ORDER BY started_at"
        )
        return [r[0] for r in rows]

    # -- the status view -------------------------------------------------------------
    def latest_storage_id(self) -> int:
        rows = self._fetchall("SELECT MAX(storage_id) FROM event_logs")
        return int(rows[0][0] or 0)

    def changed_asset_keys(self, *, after_storage_id: int) -> set[AssetKey]:
        rows = self._fetchall(
            "SELECT asset_key FROM asset_changes WHERE storage_id > ?", (after_storage_id,)
        )
        return {AssetKey.from_user_string(r[0]) for r in rows}

    def _subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, where: str, *args: object
    ) -> AssetSubset:
        rows = self._fetchall(
            f"SELECT partition FROM asset_partitions WHERE asset_key = ? AND {where}",
            (key.to_user_string(), *args),
        )
        return _to_subset(partitions_def, (r[0] for r in rows))

    def materialized_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        return self._subset(key, partitions_def, "materialized_storage_id IS NOT NULL")

    def updated_subset(
        self,
        key: AssetKey,
        partitions_def: PartitionsDefinition | None,
        *,
        after_storage_id: int,
    ) -> AssetSubset:
        return self._subset(key, partitions_def, "materialized_storage_id > ?", after_storage_id)

    def updated_since_time(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, *, timestamp: float
    ) -> AssetSubset:
        return self._subset(key, partitions_def, "materialized_at >= ?", timestamp)

    def in_progress_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        subset = self._subset(key, partitions_def, "in_progress_run_id IS NOT NULL")
        for _, step_subset in self._partition_sets(key, partitions_def, _IN_PROGRESS):
            subset = subset | step_subset
        return subset

    def failed_subset(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None
    ) -> AssetSubset:
        subset = self._subset(key, partitions_def, "failed_storage_id IS NOT NULL")
        for failed_at, step_subset in self._partition_sets(key, partitions_def, _FAILED):
            rematerialized = self.updated_subset(key, partitions_def, after_storage_id=failed_at)
            # Both are subsets of ``partitions_def``, so of the same kind.
            subset = subset | (step_subset - rematerialized)  # type: ignore[operator]
        return subset

    def _partition_sets(
        self, key: AssetKey, partitions_def: PartitionsDefinition | None, status: str
    ) -> list[tuple[int, PartitionsSubset]]:
        """(storage id, subset) of the multi-partition steps of `key` in `status`; sets
        written for another partitioning (the asset changed since) are dropped."""
        if partitions_def is None:
            return []
        rows = self._fetchall(
            "SELECT storage_id, subset FROM asset_partition_sets "
            "WHERE asset_key = ? AND status = ? ORDER BY storage_id",
            (key.to_user_string(), status),
        )
        sets = []
        for storage_id, data in rows:
            try:
                sets.append((storage_id, partitions_def.subset_from_serializable(json.loads(data))))
            except (PartitionsError, KeyError, TypeError, ValueError):
                continue
        return sets

    def latest_materialization(
        self, key: AssetKey, partition: str | None = None
    ) -> MaterializationRecord | None:
        rows = self._fetchall(
            "SELECT materialized_storage_id, materialized_at, materialized_run_id, code_version "
            "FROM asset_partitions WHERE asset_key = ? AND partition = ? "
            "AND materialized_storage_id IS NOT NULL",
            (key.to_user_string(), _NO_PARTITION if partition is None else partition),
        )
        if not rows:
            return None
        row = rows[0]
        return MaterializationRecord(key, partition, row[0], row[1], row[2], row[3])

    # -- dynamic partitions (a DynamicPartitionsStore) ---------------------------------
    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        """The keys registered under ``partitions_def_name``, in the order they were added."""
        rows = self._fetchall(
            "SELECT partition_key FROM dynamic_partitions WHERE partitions_def_name = ? "
            "ORDER BY id",
            (partitions_def_name,),
        )
        return [r[0] for r in rows]

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        rows = self._fetchall(
            "SELECT 1 FROM dynamic_partitions WHERE partitions_def_name = ? AND partition_key = ?",
            (partitions_def_name, partition_key),
        )
        return bool(rows)

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Iterable[str]
    ) -> list[str]:
        """Register keys (adding an existing key changes nothing); returns the new ones.

        Every key is checked before any is written, so a bad key adds nothing.
        """
        where = f"dynamic partitions {partitions_def_name!r}"
        keys = [validate_partition_key(k, where=where) for k in partition_keys]
        added: list[str] = []
        with self._write() as cur:
            for key in dict.fromkeys(keys):
                cur.execute(
                    "INSERT OR IGNORE INTO dynamic_partitions "
                    "(partitions_def_name, partition_key) VALUES (?, ?)",
                    (partitions_def_name, key),
                )
                if cur.rowcount:
                    added.append(key)
        return added

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        """Unregister a key; deleting a key that is not there changes nothing (as on the
        control plane, so a tick that deletes a key twice is not an error).

        Materialization records of the key stay in the event log.
        """
        with self._write() as cur:
            cur.execute(
                "DELETE FROM dynamic_partitions "
                "WHERE partitions_def_name = ? AND partition_key = ?",
                (partitions_def_name, partition_key),
            )

    # -- automation cursor -----------------------------------------------------------
    def get_automation_cursor(self) -> str | None:
        rows = self._fetchall("SELECT value FROM kv WHERE key = ?", (AUTOMATION_CURSOR,))
        return rows[0][0] if rows else None

    def set_automation_cursor(self, cursor_json: str) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO kv (key, value) VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (AUTOMATION_CURSOR, cursor_json),
            )


def _to_subset(
    partitions_def: PartitionsDefinition | None, partitions: Iterable[str]
) -> AssetSubset:
    """Rows to a subset; rows of another shape (the asset changed partitioning) are dropped."""
    if partitions_def is None:
        return subset_of_keys(None, (p for p in partitions if p == _NO_PARTITION))
    return subset_of_known_keys(partitions_def, [p for p in partitions if p != _NO_PARTITION])
