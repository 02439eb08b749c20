"""Whole-database views for tests that must prove a request changed nothing (any backend)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest
from django.db import connection


def all_rows() -> Iterator[tuple[str, list[str]]]:
    """Every table with its rows rendered as text, in a stable order."""
    with connection.cursor() as cursor:
        for table in sorted(connection.introspection.table_names()):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            yield table, sorted(repr(row) for row in cursor.fetchall())


def database_fingerprint() -> dict[str, str]:
    """A digest of every row of every table."""
    return {
        table: hashlib.sha256("\n".join(rows).encode()).hexdigest() for table, rows in all_rows()
    }


def require_postgresql() -> None:
    """Skip the calling test on the embedded SQLite (it checks a PostgreSQL-only guarantee)."""
    if connection.vendor != "postgresql":
        pytest.skip("checks a PostgreSQL-only guarantee")
