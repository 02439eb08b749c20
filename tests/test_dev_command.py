"""`assay dev` — the README's first command — as a user runs it: a real process on SQLite."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TOKEN = re.compile(r"admin token: (\S+)")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_dev(home: Path, port: int) -> tuple[subprocess.Popen, str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "assay", "dev", "--home", str(home), "--port", str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if match := TOKEN.search(line):
            return process, match.group(1)
    process.wait(timeout=30)
    pytest.fail("assay dev exited before it was ready:\n" + "".join(seen))


def _get(url: str, token: str) -> dict:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _stop(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGINT)
    try:
        return process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()


def test_assay_dev_serves_the_example_location_and_stops_cleanly_on_ctrl_c(tmp_path):
    port = _free_port()
    home = tmp_path / "state"
    url = f"http://127.0.0.1:{port}/api/v1/orgs/dev/deployments/prod/code-locations/"

    process, token = _start_dev(home, port)
    try:
        body = _get(url, token)
    finally:
        exit_code = _stop(process)
    assert [loc["name"] for loc in body["results"]] == ["analytics"]
    assert exit_code == 0
    assert (home / "control_plane.sqlite3").is_file()

    # A second start reuses the same state: nothing is registered twice.
    process, token = _start_dev(home, port)
    try:
        body = _get(url, token)
    finally:
        exit_code = _stop(process)
    assert [loc["name"] for loc in body["results"]] == ["analytics"]
    assert exit_code == 0


def test_assay_dev_names_a_missing_code_location(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "assay", "dev", "-f", str(tmp_path / "nope.py")],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "nope.py" in result.stderr
