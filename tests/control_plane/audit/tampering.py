"""Raw writes to the audit table, the way someone with database access could make them."""

from __future__ import annotations

from django.db import connection, transaction


def tamper(sql: str, params: list) -> None:
    """Raw SQL past the model; on PostgreSQL also past the append-only trigger, as a
    superuser with raw access could (SQLite has no trigger to bypass)."""
    with transaction.atomic(), connection.cursor() as cursor:
        postgresql = connection.vendor == "postgresql"
        if postgresql:
            cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute(sql, params)
        if postgresql:
            cursor.execute("SET LOCAL session_replication_role = origin")
