"""The agent connects over TLS, trusting a private CA from `tls.ca_file`.

Against `FakeControlPlane`, a test double of our own control plane (the real servicer is
built in parallel against the same proto).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent.config import load_config
from tests.agent.agent_harness import running_agent
from tests.agent.config_files import TOKEN
from tests.agent.fake_control_plane import FakeControlPlane

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


def make_certificates(directory: Path) -> tuple[Path, bytes, bytes]:
    """A private CA and a server certificate for localhost signed by it."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    key = ("-newkey", "rsa:2048", "-nodes")
    openssl("req", "-x509", *key, "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
            "-subj", "/CN=Test CA")  # fmt: skip
    openssl("req", *key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "server.pem",
            "-extfile", "san.ext")  # fmt: skip
    return (
        directory / "ca.pem",
        (directory / "server.key").read_bytes(),
        (directory / "server.pem").read_bytes(),
    )


def test_the_agent_speaks_tls_to_a_control_plane_with_a_private_ca(tmp_path: Path) -> None:
    ca, key, certificate = make_certificates(tmp_path)
    fake = FakeControlPlane(token=TOKEN, tls=(key, certificate))
    port = fake.start()
    project = tmp_path / "project"
    project.mkdir()
    (project / "tiny_defs.py").write_text(
        "from assay import Definitions, asset\n\n@asset\ndef one():\n    return 1\n\n"
        "defs = Definitions(assets=[one])\n"
    )
    config_path = tmp_path / "assay.yaml"
    config_path.write_text(
        yaml.safe_dump(
            {
                "control_plane": {
                    "address": f"localhost:{port}",
                    "token": TOKEN,
                    "tls": {"ca_file": str(ca)},
                },
                "state_dir": str(tmp_path / "state"),
                "deployments": ["prod"],
                "code_locations": [
                    {"name": "tiny", "module": "tiny_defs", "working_directory": str(project)}
                ],
            }
        )
    )
    try:
        with running_agent(load_config(config_path)):
            fake.wait_for(lambda: fake.state.snapshots, "a snapshot over TLS")
    finally:
        fake.stop()
    assert fake.state.authorizations == [f"Bearer {TOKEN}"]
