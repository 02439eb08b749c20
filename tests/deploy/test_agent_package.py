"""The agent as its own package: `packages/assay-agent` builds a wheel (agent + SDK) that
installs into a fresh virtualenv without Django, and its `assay-agent` works there."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.deploy.agent_package import build_agent_wheel, install_in_fresh_venv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("agent-package")
    wheel = build_agent_wheel(directory)
    install_in_fresh_venv(wheel, directory / "venv")
    return directory / "venv"


# Nothing of this checkout on the path (no PYTHONPATH): only what the wheel installed.
ENV = {"PATH": "/usr/bin:/bin", "GRPC_VERBOSITY": "ERROR"}


def agent(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(venv / "bin" / "assay-agent"), *args],
        capture_output=True, text=True, cwd=cwd, timeout=120, check=False, env=ENV,
    )  # fmt: skip


def write_config(directory: Path, address: str) -> None:
    (directory / "shop_defs.py").write_text(
        "from assay import Definitions, asset\n\n@asset\ndef orders():\n    return 1\n\n"
        "defs = Definitions(assets=[orders])\n"
    )
    config = directory / "assay.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "control_plane": {"address": address, "token": "agt_" + "x" * 40},
                "state_dir": "state",
                "deployments": ["prod"],
                "code_locations": [{"name": "shop", "file": "shop_defs.py"}],
            }
        )
    )
    os.chmod(config, 0o600)


def test_the_wheel_holds_the_agent_and_the_sdk_but_not_django_or_the_control_plane(venv, tmp_path):
    python = str(venv / "bin" / "python")

    def run(code: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [python, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=ENV
        )

    found = run("import agent.cli, assay.api.v1.agent_pb2_grpc, assay; print(assay.__file__)")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith(str(venv))  # the installed copy, not this checkout
    for absent in ("django", "control_plane", "billing", "launcher"):
        assert f"No module named '{absent}'" in run(f"import {absent}").stderr, absent


def test_assay_agent_help_lists_its_commands(venv, tmp_path):
    helped = agent(venv, "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for command in ("init", "doctor", "run", "check-config"):
        assert command in helped.stdout


def test_doctor_explains_a_port_that_does_not_speak_tls(venv, tmp_path):
    with socket.socket() as listener:  # accepts TCP connections, then closes them
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        write_config(tmp_path, f"127.0.0.1:{listener.getsockname()[1]}")
        doctor = agent(venv, "doctor", cwd=tmp_path)
    assert doctor.returncode == 1, doctor.stdout + doctor.stderr
    assert "ok   DNS:" in doctor.stdout
    assert "ok   network:" in doctor.stdout
    assert "FAIL TLS: TLS handshake failed" in doctor.stdout, doctor.stdout


def test_doctor_explains_a_closed_port(venv, tmp_path):
    with socket.socket() as probe:  # a port bound and never listened on refuses connections
        probe.bind(("127.0.0.1", 0))
        write_config(tmp_path, f"127.0.0.1:{probe.getsockname()[1]}")
        doctor = agent(venv, "doctor", cwd=tmp_path)
    assert doctor.returncode == 1
    assert "FAIL network: cannot open a TCP connection to 127.0.0.1:" in doctor.stdout
