"""The probes answer without credentials; readiness follows the database and migrations."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_answers_without_credentials():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_ready_on_a_migrated_database():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}


def test_readyz_is_unavailable_while_a_migration_is_pending():
    recorder = MigrationRecorder(connection)
    latest = recorder.migration_qs.filter(app="tenancy").order_by("-id").first()
    latest.delete()  # as if the new image's migration had not run yet (rolled back after)
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["checks"]["migrations"] == "1 pending"


def test_probes_refuse_writes():
    assert Client().post("/healthz").status_code == 405
