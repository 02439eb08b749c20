"""Installing an agent on "another machine": a virtualenv of its own with the agent and the
SDK but no Django (the wheel of packages/assay-agent), then
`assay-agent init` against the real servicer over real TLS on loopback, `doctor` for a
broken setup, and `run` until the control plane holds the location's snapshot."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from concurrent import futures
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from control_plane.agents.servicer import add_to_server
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.daemon import Loop, run_loops
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from control_plane.runs.queue import dequeue_runs
from control_plane.tenancy import queries
from tests.agent.test_tls import make_certificates
from tests.control_plane.factories import agent_token
from tests.control_plane.real_agent import wait_for
from tests.deploy.agent_package import build_agent_wheel, install_in_fresh_venv

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl"),
]

# A deadline, not a measurement: a loaded 2-core machine can take minutes to start a run.
DEADLINE_S = 300.0
DEFS = (
    "from assay import Definitions, asset\n\n@asset\ndef orders():\n    return 1\n\n"
    "defs = Definitions(assets=[orders])\n"
)


@pytest.fixture(scope="module")
def agent_venv(tmp_path_factory) -> Path:
    """The agent as a user installs it: the assay-agent wheel in its own virtualenv."""
    directory = tmp_path_factory.mktemp("agent-machine")
    python = install_in_fresh_venv(build_agent_wheel(directory), directory / "venv")
    no_django = subprocess.run(
        [str(python), "-c", "import django"], capture_output=True, text=True, check=False
    )
    assert no_django.returncode != 0 and "No module named 'django'" in no_django.stderr
    return directory / "venv"


@pytest.fixture
def tls_endpoint(tmp_path):
    ca, key, certificate = make_certificates(tmp_path)
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    add_to_server(server)
    port = server.add_secure_port("127.0.0.1:0", grpc.ssl_server_credentials([(key, certificate)]))
    server.start()
    # The IP, not "localhost": the port is free on 127.0.0.1 only, and "localhost" may
    # resolve to ::1 first, where another process can hold the same port number.
    yield f"127.0.0.1:{port}", ca
    server.stop(grace=None)


@contextmanager
def run_queue():
    """The daemon's run queue, as `run_daemon` runs it (a thread per loop)."""
    stop = threading.Event()
    loops = [Loop("queue", 0.02, dequeue_runs, drain=True)]
    daemon = threading.Thread(target=run_loops, args=(loops,), kwargs={"stop": stop})
    daemon.start()
    try:
        yield
    finally:
        stop.set()
        daemon.join()


def run_agent_cli(venv: Path, *args: str, cwd: Path, stdin: str = "", env=None):
    return subprocess.run(
        [str(venv / "bin" / "assay-agent"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "GRPC_VERBOSITY": "ERROR", **(env or {})},
        timeout=120,
        check=False,
    )


def test_init_writes_a_private_config_checks_it_and_the_agent_connects_over_tls(
    acme, agent_venv, tls_endpoint, tmp_path
):
    address, ca = tls_endpoint
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(acme.ctx(), deployments=[prod])
    machine = tmp_path / "machine"
    machine.mkdir()
    (machine / "shop_defs.py").write_text(DEFS)

    init = run_agent_cli(
        agent_venv,
        "init", "--url", address, "--token", "-", "--ca-file", str(ca),
        "--location-name", "shop", "--file", "shop_defs.py",
        cwd=machine,
        stdin=token + "\n",
    )  # fmt: skip
    output = init.stdout + init.stderr
    assert init.returncode == 0, output
    assert token not in output
    for check in ("DNS", "network", "TLS", "token", "code location shop"):
        assert f"ok   {check}:" in output, output
    assert "next: assay-agent run --config assay.yaml" in output
    config = machine / "assay.yaml"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert token in config.read_text()  # inline, since it was given (the file is 0600)

    again = run_agent_cli(agent_venv, "init", "--url", address, "--file", "x.py", cwd=machine)
    assert again.returncode == 2 and "exists" in again.stderr

    log = machine / "agent.log"
    process = subprocess.Popen(
        [str(agent_venv / "bin" / "assay-agent"), "run", "--config", str(config)],
        env={"PATH": "/usr/bin:/bin", "GRPC_VERBOSITY": "ERROR"},
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        cwd=machine,
    )
    try:
        with run_queue():
            with tenant_context(acme.ctx()):
                wait_for(
                    lambda: LocationSnapshot.objects.filter(
                        code_location__name="shop", is_current=True
                    ).exists(),
                    "the location's snapshot over TLS",
                    timeout=DEADLINE_S,
                    log=log,
                )
            client = acme.client()
            response = client.post(
                "/api/v1/orgs/acme/deployments/prod/runs/", {"location": "shop"}, format="json"
            )
            assert response.status_code == 201, response.content
            run_id = response.json()["id"]

            def finished():
                with tenant_context(acme.ctx()):
                    run = Run.objects.get(pk=run_id)
                return run if run.status in TERMINAL_STATUSES else None

            run = wait_for(finished, "the example run to finish", timeout=DEADLINE_S, log=log)
            assert run.status == RunStatus.SUCCESS, (run.reason, log.read_text()[-3000:])
    finally:
        process.terminate()
        process.wait(30)
    assert token not in log.read_text()


def test_init_with_the_token_in_the_environment_writes_only_a_reference(
    acme, agent_venv, tls_endpoint, tmp_path
):
    address, ca = tls_endpoint
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(acme.ctx(), deployments=[prod])
    (tmp_path / "shop_defs.py").write_text(DEFS)
    init = run_agent_cli(
        agent_venv,
        "init", "--url", address, "--ca-file", str(ca), "--file", "shop_defs.py",
        cwd=tmp_path,
        env={"ASSAY_AGENT_TOKEN": token},
    )  # fmt: skip
    assert init.returncode == 0, init.stdout + init.stderr
    text = (tmp_path / "assay.yaml").read_text()
    assert token not in text and "${ASSAY_AGENT_TOKEN}" in text


def test_doctor_explains_a_wrong_token_an_untrusted_certificate_and_a_bad_import(
    acme, agent_venv, tls_endpoint, tmp_path
):
    address, ca = tls_endpoint
    (tmp_path / "broken_defs.py").write_text("import not_installed_anywhere\n")
    wrong = "ast_" + "x" * 40
    init = run_agent_cli(
        agent_venv,
        "init", "--url", address, "--token", "-", "--ca-file", str(ca), "--file", "broken_defs.py",
        cwd=tmp_path,
        stdin=wrong,
    )  # fmt: skip
    assert init.returncode == 1
    assert "FAIL token: the control plane rejected token ****xxxx" in init.stdout, init.stdout
    assert wrong not in init.stdout + init.stderr
    assert "assay-agent doctor --config assay.yaml" in init.stdout

    other_ca_dir = tmp_path / "other"
    other_ca_dir.mkdir()
    other_ca, _, _ = make_certificates(other_ca_dir)
    config = tmp_path / "assay.yaml"
    config.write_text(config.read_text().replace(str(ca), str(other_ca)))
    doctor = run_agent_cli(agent_venv, "doctor", cwd=tmp_path)
    assert doctor.returncode == 1
    assert "FAIL TLS: the control plane's certificate is not trusted" in doctor.stdout
    assert "tls.ca_file" in doctor.stdout

    unreachable = tmp_path / "unreachable.yaml"
    unreachable.write_text(config.read_text().replace(address, "no-such-host.invalid:4000"))
    os.chmod(unreachable, 0o600)
    doctor = run_agent_cli(agent_venv, "doctor", "--config", str(unreachable), cwd=tmp_path)
    assert doctor.returncode == 1 and "FAIL DNS: cannot resolve 'no-such-host.invalid'" in (
        doctor.stdout
    )


def test_doctor_names_a_code_location_that_does_not_import(
    acme, agent_venv, tls_endpoint, tmp_path
):
    address, ca = tls_endpoint
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    token = agent_token(acme.ctx(), deployments=[prod])
    (tmp_path / "broken_defs.py").write_text("import not_installed_anywhere\n")
    init = run_agent_cli(
        agent_venv,
        "init", "--url", address, "--token", "-", "--ca-file", str(ca), "--file", "broken_defs.py",
        cwd=tmp_path,
        stdin=token,
    )  # fmt: skip
    assert init.returncode == 1
    assert "ok   token:" in init.stdout
    assert "FAIL code location main: cannot import" in init.stdout
    assert "not_installed_anywhere" in init.stdout
