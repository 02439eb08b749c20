"""Settings come from environment variables with safe production defaults."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from control_plane.settings import database_from_url

ROOT = Path(__file__).resolve().parents[2]


def test_postgresql_url_selects_psycopg_with_every_part():
    db = database_from_url(
        "postgresql://app:s%40cret@db.internal:6432/assay?sslmode=require", home=Path("/x")
    )
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["USER"], db["PASSWORD"], db["HOST"], db["PORT"], db["NAME"]) == (
        "app",
        "s@cret",
        "db.internal",
        "6432",
        "assay",
    )
    assert db["OPTIONS"] == {"sslmode": "require"}
    assert database_from_url("postgres://u@h/d", home=Path("/x"))["ENGINE"].endswith("postgresql")


def test_no_database_url_means_sqlite_under_assay_home():
    db = database_from_url(None, home=Path("/data/assay"))
    assert db == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": "/data/assay/control_plane.sqlite3",
    }


def test_unknown_database_scheme_is_a_clear_error():
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match="mysql"):
        database_from_url("mysql://x/y", home=Path("/x"))


def _settings_in_subprocess(env: dict[str, str], expression: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    return subprocess.run(
        [sys.executable, "-c", f"import control_plane.settings as s; print({expression})"],
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "control_plane.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_debug_is_off_unless_asked(tmp_path):
    result = _settings_in_subprocess({"ASSAY_HOME": str(tmp_path), "ASSAY_DEBUG": "1"}, "s.DEBUG")
    assert result.stdout.strip() == "True"


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    result = _settings_in_subprocess(
        {"DATABASE_URL": "postgresql://u@h/d", "ASSAY_HOME": str(tmp_path)}, "s.DEBUG"
    )
    assert result.returncode != 0
    assert "ASSAY_SECRET_KEY is required" in result.stderr


def test_tls_base_url_turns_on_secure_cookies_and_hsts(tmp_path):
    result = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgresql://u@h/d",
            "ASSAY_SECRET_KEY": "k" * 50,
            "ASSAY_BASE_URL": "https://assay.example.com",
            "ASSAY_HOME": str(tmp_path),
        },
        "s.DEBUG, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0, "
        "s.ALLOWED_HOSTS",
    )
    assert result.stdout.strip() == "False True True True ['assay.example.com']", result.stderr


def test_local_install_with_no_environment_persists_a_generated_secret_key(tmp_path):
    first = _settings_in_subprocess({"ASSAY_HOME": str(tmp_path)}, "s.DEBUG, s.SECRET_KEY")
    second = _settings_in_subprocess({"ASSAY_HOME": str(tmp_path)}, "s.DEBUG, s.SECRET_KEY")
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout and first.stdout.startswith("False ")
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
