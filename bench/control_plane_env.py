"""The control plane the benchmarks measure: a throwaway PostgreSQL (the test recipe for
this machine) with Django configured on it and migrated, stopped again on exit."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from control_plane.testing import postgres


@contextmanager
def throwaway_control_plane(**env: str) -> Iterator[postgres.TemporaryPostgres]:
    """Yield the running server once ``django.setup()`` and ``migrate`` are done; ``env``
    adds or overrides settings (``ASSAY_HOME`` defaults to a new temporary directory)."""
    server = postgres.start()
    os.environ.update(
        {
            "DATABASE_URL": server.url,
            "ASSAY_SECRET_KEY": "bench-" + "x" * 50,
            "ASSAY_HOME": tempfile.mkdtemp(prefix="assay-bench-"),
            "ASSAY_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "control_plane.settings",
            **env,
        }
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        yield server
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()
