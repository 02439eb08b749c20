"""Settings come from environment variables with safe production defaults."""

from __future__ import annotations

import json
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


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("sqlite:////var/lib/assay/cp.sqlite3", "/var/lib/assay/cp.sqlite3"),
        ("sqlite:///relative/cp.sqlite3", "relative/cp.sqlite3"),
        ("sqlite:///:memory:", ":memory:"),
    ],
)
def test_sqlite_url_names_a_file_absolute_with_four_slashes_relative_with_three(url, name):
    assert database_from_url(url, home=Path("/x")) == {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": name,
    }


@pytest.mark.parametrize("url", ["sqlite://cp.sqlite3", "sqlite://", "sqlite:///"])
def test_sqlite_url_that_would_silently_be_in_memory_is_refused(url):
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured, match=r"sqlite:////absolute/path\.db"):
        database_from_url(url, home=Path("/x"))


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


PRODUCTION = {"DATABASE_URL": "postgresql://u@h/d", "ASSAY_SECRET_KEY": "k" * 50}


def test_debug_is_off_unless_asked(tmp_path):
    home = {"ASSAY_HOME": str(tmp_path)}
    assert _settings_in_subprocess({**home, **PRODUCTION}, "s.DEBUG").stdout.strip() == "False"
    assert _settings_in_subprocess(home, "s.DEBUG").stdout.strip() == "False"
    result = _settings_in_subprocess({**home, "ASSAY_DEBUG": "1"}, "s.DEBUG")
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


# A request through the whole middleware stack, in a subprocess with the given environment.
# /api/v1/docs/ needs no database, so the production DATABASE_URL is never connected to.
_REQUEST = """
import django, json
django.setup()
from django.test import Client
client = Client()
plain = client.get("/api/v1/docs/", HTTP_HOST="assay.example.com")
proxied = client.get(
    "/api/v1/docs/", HTTP_HOST="assay.example.com", HTTP_X_FORWARDED_PROTO="https"
)
print(json.dumps({
    "plain": [plain.status_code, plain.headers.get("Location")],
    "proxied": [proxied.status_code, proxied.headers.get("Strict-Transport-Security")],
}))
"""


def _request_in_subprocess(env: dict[str, str]) -> dict:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    result = subprocess.run(
        [sys.executable, "-c", _REQUEST],
        env={**clean, **env, "DJANGO_SETTINGS_MODULE": "control_plane.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_http_is_redirected_and_https_answers_carry_hsts(tmp_path):
    answers = _request_in_subprocess(
        {
            **PRODUCTION,
            "ASSAY_HOME": str(tmp_path),
            "ASSAY_BASE_URL": "https://assay.example.com",
            "ASSAY_BEHIND_TLS_PROXY": "1",
        }
    )
    assert answers["plain"] == [301, "https://assay.example.com/api/v1/docs/"]
    assert answers["proxied"] == [200, "max-age=31536000; includeSubDomains"]


def test_without_tls_there_is_no_hsts_and_no_redirect(tmp_path):
    answers = _request_in_subprocess(
        {
            **PRODUCTION,
            "ASSAY_HOME": str(tmp_path),
            "ASSAY_BASE_URL": "http://assay.example.com",
            "ASSAY_BEHIND_TLS_PROXY": "1",
        }
    )
    assert answers["plain"] == [200, None]
    assert answers["proxied"] == [200, None]


def test_untrusted_forwarded_proto_header_is_ignored_without_the_proxy_setting(tmp_path):
    """Without ASSAY_BEHIND_TLS_PROXY a client cannot claim HTTPS with a header."""
    answers = _request_in_subprocess(
        {**PRODUCTION, "ASSAY_HOME": str(tmp_path), "ASSAY_BASE_URL": "https://assay.example.com"}
    )
    assert answers["proxied"] == [200, None]
