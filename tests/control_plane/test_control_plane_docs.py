"""The commands in docs/control-plane.md exist and accept the options shown, and its
walkthrough runs as written."""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "control-plane.md"


def _documented_commands() -> list[list[str]]:
    commands = []
    for line in DOC.read_text().splitlines():
        match = re.search(r"python -m control_plane (.+)$", line.strip())
        if match and not line.strip().startswith("`"):
            text = re.sub(r"\[[^\]]*\]", "", match.group(1))  # drop [optional] parts
            argv = shlex.split(text, comments=True)
            while argv and argv[-1] in {"&", ")"}:  # backgrounded, or inside $(...)
                argv.pop()
            commands.append([arg.removesuffix(")") for arg in argv])
    return commands


def test_documented_commands_parse_with_the_documented_options():
    documented = _documented_commands()
    names = {argv[0] for argv in documented}
    assert {"migrate", "bootstrap", "create_token", "verify_audit", "serve"} <= names
    available = get_commands()
    for argv in documented:
        command = load_command_class(available[argv[0]], argv[0])
        parser = command.create_parser("python -m control_plane", argv[0])
        parser.parse_args(argv[1:])  # exits (fails the test) on an unknown option


def _walkthrough() -> str:
    text = DOC.read_text()
    start = text.index("```sh\n", text.index("### Walkthrough: a fresh install")) + len("```sh\n")
    return text[start : text.index("\n```", start)]


@pytest.mark.slow
def test_walkthrough_runs_as_written_on_a_fresh_sqlite_install(tmp_path):
    from control_plane.testing.postgres import free_port

    script = (
        _walkthrough()
        .replace("127.0.0.1:3000", f"127.0.0.1:{free_port()}")
        .replace("--port 3000", "--port {port}")
        .replace("/tmp/assay-walkthrough", str(tmp_path / "home"))
    )
    port = re.search(r"127\.0\.0\.1:(\d+)", script).group(1)
    script = script.replace("--port {port}", f"--port {port}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ASSAY_", "DATABASE_URL"))}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env["PATH"] = f"{Path(sys.executable).parent}:{env['PATH']}"  # `python` is this venv's
    process = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = process.communicate(timeout=180)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    assert process.returncode == 0, out + err
    assert '"name":"feature-x"' in out and '"name":"analytics"' in out
    assert '"role":"launcher"' in out and '"team":"launchers"' in out
    assert '"email":"ana@acme.com","name":"","status":"pending"' in out
    assert '"errors":{"name":["Use lower-case letters, digits and hyphens;' in out
    assert "\n404\n" in out
    assert re.search(r"^assay_a_\w+_\S+$", out, re.MULTILINE)
    assert "seq,occurred_at,actor_type" in out and "token.create" in out
    assert "acme: OK, 8 events verified" in out  # as the comment in the walkthrough says
