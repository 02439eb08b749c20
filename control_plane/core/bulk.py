"""Fast multi-row writes for the ingest path (PostgreSQL).

The ORM's bulk insert spends most of its time building SQL text, which caps event ingestion
far below the target rate. Two ways in, both inside the caller's transaction:

- ``copy_rows``: ``COPY`` straight into the table, under a savepoint. The cheapest way to
  insert rows PostgreSQL has (no staging, no per-row conflict check), for rows that are new
  in all but rare cases (freshly ingested events); on a unique violation nothing is
  inserted and the caller falls back to:
- ``insert_rows``: ``COPY`` into a per-connection staging table, then one ``INSERT ...
  SELECT ... ON CONFLICT``, for upserts and for rows that may already exist.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection, transaction
from psycopg import errors


def is_supported() -> bool:
    return connection.vendor == "postgresql"


def _names(columns: Sequence[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


def copy_rows(*, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> bool:
    """``COPY`` ``rows`` into ``table``; False, with nothing inserted, when one of them
    violates a unique constraint. JSON values must be passed already serialised."""
    statement = f"COPY {table} ({_names(columns)}) FROM STDIN"
    try:
        with (
            transaction.atomic(),  # a savepoint: a conflict undoes only this
            connection.cursor() as cursor,
            cursor.cursor.copy(statement) as copy,
        ):
            for row in rows:
                copy.write_row(row)
    except errors.UniqueViolation:
        return False
    return True


def insert_rows(
    *,
    table: str,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    on_conflict: str = "DO NOTHING",
    conflict_target: Sequence[str] = (),
    returning: str | None = None,
) -> list[tuple]:
    """Insert ``rows`` into ``table`` inside the caller's transaction (PostgreSQL only).

    ``on_conflict`` is the SQL after ``ON CONFLICT (conflict_target)`` (e.g. ``DO NOTHING`` or
    ``DO UPDATE SET x = EXCLUDED.x``); with ``returning``, the returned rows come back.
    JSON values must be passed already serialised.
    """
    names = _names(columns)
    staging = f"staging_{table}"
    target = f" ({', '.join(conflict_target)})" if conflict_target else ""
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging} ON COMMIT DELETE ROWS"
            f" AS SELECT {names} FROM {table} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} FROM {staging}"
            f" ON CONFLICT{target} {on_conflict}" + (f" RETURNING {returning}" if returning else "")
        )
        result = cursor.fetchall() if returning else []
        cursor.execute(f"DELETE FROM {staging}")
    return result
