"""The embedded SQLite default, end to end as ``assay dev`` uses it: migrate, bootstrap,
serve with waitress, use the API, verify the audit log — in subprocesses, no PostgreSQL."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from control_plane.testing.postgres import free_port

ROOT = Path(__file__).resolve().parents[2]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return {**env, "ASSAY_HOME": str(home)}


def _manage(home: Path, *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "control_plane", *args],
        env=_env(home),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def _call(base: str, method: str, path: str, token: str, body: dict | None = None):
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@pytest.mark.slow
def test_sqlite_install_migrates_bootstraps_serves_and_isolates_tenants(tmp_path):
    _manage(tmp_path, "migrate", "--no-input")
    assert (tmp_path / "control_plane.sqlite3").exists()
    acme = _manage(tmp_path, "bootstrap", "--org", "acme", "--email", "ops@acme.test")
    globex = _manage(tmp_path, "bootstrap", "--org", "globex", "--email", "ops@globex.test")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "control_plane", "serve", "--port", str(port)],
        env=_env(tmp_path),
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(base + "/schema/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        assert _call(base, "POST", "/orgs/acme/deployments/", acme, {"name": "b1"})[0] == 201
        status, _ = _call(
            base, "POST", "/orgs/acme/deployments/b1/code-locations/", acme, {"name": "loc"}
        )
        assert status == 201
        status, body = _call(base, "GET", "/orgs/acme/deployments/b1/code-locations/", acme)
        assert (status, [loc["name"] for loc in body["results"]]) == (200, ["loc"])
        assert _call(base, "GET", "/orgs/acme/deployments/b1/", globex)[0] == 404
        assert _call(base, "GET", "/orgs/acme/", "")[0] == 401
        with urllib.request.urlopen(base + "/docs/", timeout=5) as docs:
            page = docs.read().decode()
        asset = re.search(r'src="(/static/[^"]+)"', page).group(1)  # served locally, no CDN
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{asset}", timeout=5) as script:
            assert script.status == 200
    finally:
        server.terminate()
        server.wait(timeout=10)
    assert "acme: OK, 4 events verified" in _manage(tmp_path, "verify_audit", "--org", "acme")


# The tests that must hold on the embedded default as well: the foundation, and the
# daemon's automation loops, whose SQLite paths ``assay dev`` takes (ingest's queue insert,
# claiming ticks with ON CONFLICT ... RETURNING, the non-bulk writes). Tests of a
# PostgreSQL-only guarantee (the audit trigger, concurrent writers and replicas) skip
# themselves there.
SQLITE_SUBSET = [
    "tests/control_plane/tenancy",
    "tests/control_plane/api",
    "tests/control_plane/audit",
    "tests/control_plane/test_commands.py",
    "tests/control_plane/automation",
]
POSTGRESQL_ONLY = 8  # the tests there that skip: 3 of the audit log, 5 of automation


@pytest.mark.slow
def test_tenancy_api_audit_and_automation_tests_pass_on_the_embedded_sqlite(tmp_path):
    env = {
        **_env(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'tests.sqlite3'}",
        "ASSAY_SECRET_KEY": "sqlite-subset-" + "x" * 40,
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-m",
            "not slow",
            *SQLITE_SUBSET,
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    summary = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    skipped = re.search(r"(\d+) skipped", summary)
    assert passed > 250 and (int(skipped.group(1)) if skipped else 0) <= POSTGRESQL_ONLY, summary
