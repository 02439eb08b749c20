"""`assay dev`: the control plane on embedded SQLite with your code location, in one command.

The control plane runs as child processes (`python -m control_plane ...`), never imported:
the SDK stays free of Django, and what runs here is what runs in production.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from assay.cli._common import handle_user_errors, stderr, stdout
from assay.errors import AssayError
from assay.loading import load_definitions

EXAMPLE_FILE = Path("examples/analytics/definitions.py")
DEV_ORG = "dev"
DEV_EMAIL = "dev@localhost"
STARTUP_TIMEOUT_S = 60.0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the control plane locally with a code location (embedded SQLite)",
        description=(
            "Load a code location, start the control plane's REST API on an embedded SQLite "
            "database under --home, register the location in the 'dev' organization's prod "
            "deployment and print an admin API token. Ctrl-C stops everything."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-m", "--module", help="import the code location from this module")
    where.add_argument(
        "-f", "--file", help=f"load the code location from this file (default: {EXAMPLE_FILE})"
    )
    parser.add_argument("-a", "--attribute", help="name of the Definitions object")
    parser.add_argument("--location-name", help="code location name (default: from the path)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve on")
    parser.add_argument("--port", type=int, default=3000, help="port to serve on (default 3000)")
    parser.add_argument("--home", default=".assay", help="state directory (default ./.assay)")
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    module, file = args.module, args.file
    if module is None and file is None:
        if not EXAMPLE_FILE.is_file():
            raise AssayError(f"no -m/-f given and no {EXAMPLE_FILE} here: say which code to load")
        file = str(EXAMPLE_FILE)
    defs = load_definitions(module=module, file=file, attribute=args.attribute)
    location = args.location_name or _location_name(module=module, file=file)
    graph = defs.asset_graph
    out = stdout()
    out.print(f"loaded code location [bold]{location}[/]: {len(graph.nodes)} assets")

    home = Path(args.home).resolve()
    base_url = f"http://{args.host}:{args.port}"
    env = {
        **os.environ,
        "ASSAY_HOME": str(home),
        "ASSAY_DEBUG": "1",
        "ASSAY_BASE_URL": base_url,
    }
    _control_plane("migrate", "--noinput", "-v", "0", env=env)
    token = _control_plane(
        "bootstrap", "--org", DEV_ORG, "--email", DEV_EMAIL, "--token-name", "assay dev", env=env
    ).strip()

    server = subprocess.Popen(
        [
            sys.executable, "-m", "control_plane", "serve",
            "--host", args.host, "--port", str(args.port),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    # SIGTERM (from a supervisor) stops as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        _wait_until_listening(server, args.host, args.port)
        _ensure_code_location(base_url, token, location, module or file or "")
        api = f"{base_url}/api/v1/orgs/{DEV_ORG}/deployments/prod/code-locations/"
        out.print(
            f"\n[bold green]Assay is running[/] on {base_url} (state in {home})\n"
            f"  API docs:    {base_url}/api/v1/docs/\n"
            f"  admin token: {token}\n"
            f"  try:         curl -H 'Authorization: Bearer {token}' {api}\n"
            "Press Ctrl-C to stop.",
            markup=True,
        )
        sys.stdout.flush()
        code = server.wait()
        stderr().print(f"[bold red]error:[/] the control plane exited with status {code}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        _stop(server)


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _location_name(*, module: str | None, file: str | None) -> str:
    """`examples/analytics/definitions.py` -> `analytics`; `pkg.defs` -> `pkg`."""
    if module:
        return module.split(".")[0]
    path = Path(file or "")
    return path.parent.name if path.stem in {"definitions", "__init__"} else path.stem


def _control_plane(*command: str, env: dict[str, str]) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "control_plane", *command],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssayError(f"control plane {command[0]!r} failed:\n{result.stderr.strip()}")
    return result.stdout


def _wait_until_listening(server: subprocess.Popen, host: str, port: int) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssayError(
                f"the control plane exited with status {server.returncode} while starting "
                f"(is port {port} already in use?)"
            )
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise AssayError(f"the control plane did not listen on {host}:{port} within the deadline")


def _ensure_code_location(base_url: str, token: str, name: str, module: str) -> None:
    """Register the location in the dev org's prod deployment unless it is there already."""
    url = f"{base_url}/api/v1/orgs/{DEV_ORG}/deployments/prod/code-locations/"
    existing = _request("GET", url, token)
    items = existing.get("results", existing) if isinstance(existing, dict) else existing
    if any(item["name"] == name for item in items):
        return
    _request("POST", url, token, {"name": name, "module": module})


def _request(method: str, url: str, token: str, body: dict | None = None) -> object:
    request = urllib.request.Request(
        url,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise AssayError(f"{method} {url} answered {exc.code}: {exc.read().decode()}") from exc


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
