"""Top-level test configuration.

Tests that use the database run against a throwaway PostgreSQL cluster started on first
use (so SDK tests that never touch the database pay nothing) and removed at the end.
Set ``DATABASE_URL`` to use an existing server instead. The embedded SQLite default is
exercised separately by ``tests/control_plane/test_sqlite_embedded.py``.
"""

from __future__ import annotations

import contextlib
import os

import pytest


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    from django.conf import settings
    from django.db import connections

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.postgresql" or os.environ.get("DATABASE_URL"):
        yield  # the settings already point at a PostgreSQL server
        return

    from control_plane.testing import postgres

    server = postgres.start()
    # Update in place: Django's connection handler holds this very dict.
    database.update(server.django_settings())
    if "default" in connections.settings:
        connections.settings["default"].update(server.django_settings())
    with contextlib.suppress(AttributeError):
        del connections["default"]  # any connection made so far was SQLite's
    try:
        yield
    finally:
        connections.close_all()
        server.stop()
