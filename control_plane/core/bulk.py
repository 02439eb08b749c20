"""Fast multi-row writes for the ingest path: PostgreSQL ``COPY`` into a staging table, then
one ``INSERT ... SELECT ... ON CONFLICT``. The ORM's bulk insert spends most of its time
building SQL text, which caps event ingestion far below the target rate."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import connection


def is_supported() -> bool:
    return connection.vendor == "postgresql"


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
    names = ", ".join(f'"{c}"' for c in columns)
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
