"""`assay dev`: the whole product on one machine — control plane and agent — in one command.

On an embedded SQLite file under --home it starts the control plane's web API, its agent gRPC
endpoint and its run daemon, then one `assay-agent` serving the code location in the `dev`
organization's `prod` deployment. All of them are child processes, never imported, so what
runs here is what runs in production. This is the product's launcher, not the SDK: the `assay`
command finds it through the `assay.commands` entry point (launcher/cli.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from rich.console import Console
from rich.markup import escape

from assay.cli._common import stderr, stdout
from assay.definitions.definitions import Definitions
from assay.errors import AssayError
from assay.loading import load_definitions
from assay.partitions import PartitionsDefinition, PartitionsError
from assay.snapshot import build_snapshot
from launcher import readiness
from launcher.cli import DEV_DEPLOYMENT, DEV_ORG, EXAMPLE_FILE, GRPC_HOST
from launcher.credentials import DevCredentials
from launcher.supervisor import ChildFailed, Supervisor

DEV_EMAIL = "dev@localhost"
STARTUP_TIMEOUT_S = 60.0
AGENT_STOP_TIMEOUT_S = 60.0  # the agent lets running runs finish (30 s) and flushes (10 s)
FAILED = 1


@dataclass(frozen=True)
class DevPlan:
    """What `assay dev` serves and where, settled from the arguments before anything starts."""

    home: Path
    host: str
    port: int
    grpc_port: int
    location: str
    module: str | None
    file: str | None
    asset_keys: frozenset[str]
    # The partitions "every asset" covers ({"start", "end"}), when the location has one
    # partitions definition: a partitioned selection is launched for partitions, never none.
    partition_range: dict[str, str] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def org_api(self) -> str:
        return f"{self.base_url}/api/v1/orgs/{DEV_ORG}"

    @property
    def deployment_api(self) -> str:
        return f"{self.org_api}/deployments/{DEV_DEPLOYMENT}"

    @property
    def grpc_address(self) -> str:
        return f"{GRPC_HOST}:{self.grpc_port}"

    @property
    def location_api(self) -> str:
        return f"{self.deployment_api}/code-locations/{self.location}"


def run(args: argparse.Namespace) -> int:
    plan = _plan(args)
    agent_executable = _agent_executable()
    out = stdout()
    out.print(f"loaded code location [bold]{plan.location}[/]: {len(plan.asset_keys)} assets")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    env.update(
        ASSAY_HOME=str(plan.home),
        ASSAY_DEBUG="1",
        ASSAY_BASE_URL=plan.base_url,
        PYTHONUNBUFFERED="1",  # log lines reach the log files as they are written
        GRPC_VERBOSITY=env.get("GRPC_VERBOSITY", "ERROR"),
        # Look for work every 0.1 s rather than 0.02 s: a fifth of the idle CPU on a laptop,
        # for a launch at most ~0.2 s later.
        ASSAY_RUN_DISPATCH_POLL=env.get("ASSAY_RUN_DISPATCH_POLL", "0.1"),
    )
    # A supervisor's SIGTERM and a closed terminal's SIGHUP stop as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    _control_plane("migrate", "--noinput", "-v", "0", env=env)

    supervisor = Supervisor(
        log_dir=plan.home / "logs", env=env, echo=_echo_to(out) if args.verbose else None
    )
    # Every way out stops every child, first of all: after a closed terminal even printing
    # "stopping" fails, and that must not leave the children running.
    try:
        admin_token, config = _start(supervisor, plan, env, agent_executable)
        link = _control_plane("sign_in_link", "--email", DEV_EMAIL, env=env).strip()
        _print_banner(out, plan, token=admin_token, config=config, verbose=args.verbose, link=link)
        supervisor.watch()
    except KeyboardInterrupt:
        _say(out, "\nstopping (Ctrl-C again to stop at once) ...")
        _stop(supervisor, out)
        _say(out, "stopped")
        return 0
    except ChildFailed as failure:
        with contextlib.suppress(OSError):
            _report_failure(failure)
        _stop(supervisor, out)
        return FAILED
    finally:
        _stop(supervisor, out)  # a no-op once stopped; covers any other exception


def _plan(args: argparse.Namespace) -> DevPlan:
    """Validate the arguments and load the code location; a mistake here starts nothing."""
    for port, flag in ((args.port, "--port"), (args.grpc_port, "--grpc-port")):
        if not 0 < port < 65536:
            raise AssayError(f"{flag} {port} is not a port number (1-65535)")
    if args.port == args.grpc_port:
        raise AssayError(f"--port and --grpc-port are both {args.port}: give two different ports")
    module, file = args.module, args.file
    if module is None and file is None:
        if not EXAMPLE_FILE.is_file():
            raise AssayError(f"no -m/-f given and no {EXAMPLE_FILE} here: say which code to load")
        file = str(EXAMPLE_FILE)
    defs = load_definitions(module=module, file=file)
    _ensure_port_free(args.host, args.port, "--port")
    _ensure_port_free(GRPC_HOST, args.grpc_port, "--grpc-port")
    return DevPlan(
        home=Path(args.home).resolve(),
        host=args.host,
        port=args.port,
        grpc_port=args.grpc_port,
        location=args.location_name or _location_name(module=module, file=file),
        module=module,
        file=None if file is None else str(Path(file).resolve()),
        asset_keys=frozenset(asset.key for asset in build_snapshot(defs).assets),
        partition_range=_every_partition(defs),
    )


def _every_partition(defs: Definitions) -> dict[str, str] | None:
    """The first and last key of the location's partitions, if all its partitioned assets
    share one definition (e.g. the example's daily `user_events`); else None."""
    distinct: list[PartitionsDefinition] = []
    for node in defs.asset_graph.nodes.values():
        pdef = node.spec.partitions_def
        if pdef is not None and pdef not in distinct:
            distinct.append(pdef)
    if len(distinct) != 1:
        return None
    try:
        first, last = distinct[0].get_first_partition_key(), distinct[0].get_last_partition_key()
    except PartitionsError:  # dynamic partitions: their keys live in the deployment
        return None
    return None if first is None or last is None else {"start": first, "end": last}


def _start(
    supervisor: Supervisor, plan: DevPlan, env: dict[str, str], agent_executable: str
) -> tuple[str, Path]:
    """Start the control plane, then the agent; return once the location is served.

    Returns the admin token and the agent's config file.
    """
    python = sys.executable
    web = supervisor.start(
        "web",
        "the web API",
        [python, "-m", "control_plane", "serve", "--host", plan.host, "--port", str(plan.port)],
    )
    grpc = supervisor.start(
        "grpc",
        "the agent gRPC endpoint",
        [python, "-m", "control_plane", "grpc", "--host", GRPC_HOST,
         "--port", str(plan.grpc_port)],
    )  # fmt: skip
    supervisor.start("daemon", "the run daemon", [python, "-m", "control_plane", "run_daemon"])
    credentials = DevCredentials(plan.home / "dev_tokens.json")
    if credentials.admin_token is None:  # a first start: bootstrap while the servers boot
        credentials.admin_token = _bootstrap(env)
    readiness.wait_until(
        readiness.web_ready(plan.base_url),
        supervisor=supervisor,
        child=web,
        what=f"answer {plan.base_url}/readyz",
        timeout=STARTUP_TIMEOUT_S,
    )
    readiness.wait_until(
        readiness.grpc_ready(plan.grpc_address),
        supervisor=supervisor,
        child=grpc,
        what=f"accept gRPC on {plan.grpc_address}",
        timeout=STARTUP_TIMEOUT_S,
    )
    admin_token, agent_token = credentials.ensure_valid(
        org_api=plan.org_api, deployment=DEV_DEPLOYMENT, bootstrap=lambda: _bootstrap(env)
    )

    config = _write_agent_config(plan)
    agent_started = datetime.now(UTC)
    agent = supervisor.start(
        "agent",
        "the agent",
        [agent_executable, "run", "--config", str(config)],
        stop_timeout=AGENT_STOP_TIMEOUT_S,
        extra_env={"ASSAY_AGENT_TOKEN": agent_token},
    )
    readiness.wait_until(
        readiness.location_served(
            location_api=plan.location_api,
            assets_api=f"{plan.deployment_api}/assets/?location={plan.location}",
            token=admin_token,
            asset_keys=plan.asset_keys,
            since=agent_started,
        ),
        supervisor=supervisor,
        child=agent,
        what=f"connect and serve code location {plan.location!r}",
        timeout=STARTUP_TIMEOUT_S,
    )
    return admin_token, config


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _echo_to(out: Console) -> Callable[[str, str], None]:
    """--verbose: each child's log line, prefixed with the child's name."""

    def echo(name: str, line: str) -> None:
        out.print(f"{name:>6} | {line}", markup=False, emoji=False)

    return echo


def _stop(supervisor: Supervisor, out: Console) -> None:
    supervisor.stop(on_stop=lambda child: _say(out, f"  stopping {child.description}"))


def _say(out: Console, text: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): stopping goes on either way."""
    with contextlib.suppress(OSError):
        out.print(text)


def _location_name(*, module: str | None, file: str | None) -> str:
    """`examples/analytics/definitions.py` -> `analytics`; `pkg.defs` -> `pkg`."""
    if module:
        return module.split(".")[0]
    path = Path(file or "")
    return path.parent.name if path.stem in {"definitions", "__init__"} else path.stem


def _ensure_port_free(host: str, port: int, flag: str) -> None:
    """A clear error before anything starts, rather than a child dying on a taken port."""
    try:
        with socket.create_server((host, port)):
            pass
    except OSError as exc:
        raise AssayError(
            f"cannot listen on {host}:{port}: {os.strerror(exc.errno) if exc.errno else exc} "
            f"(is another `assay dev` running?); choose another port with {flag}"
        ) from None


def _agent_executable() -> str:
    beside = Path(sys.executable).with_name("assay-agent")
    found = str(beside) if beside.exists() else shutil.which("assay-agent")
    if found is None:
        raise AssayError(
            f"assay-agent is not installed (looked beside {sys.executable} and on PATH)"
        )
    return found


def _control_plane(*command: str, env: dict[str, str]) -> str:
    """Run one management command to completion; its stdout, or `AssayError` with stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "control_plane", *command],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssayError(f"control plane {command[0]!r} failed:\n{result.stderr.strip()}")
    return result.stdout


def _bootstrap(env: dict[str, str]) -> str:
    """The `dev` organization and its admin (created once, on the unlimited plan: local
    development is not billed) and a new admin token."""
    return _control_plane(
        "bootstrap",
        "--org",
        DEV_ORG,
        "--email",
        DEV_EMAIL,
        "--token-name",
        "assay dev",
        "--plan",
        "enterprise",
        env=env,
    ).strip()


def _write_agent_config(plan: DevPlan) -> Path:
    """The agent's `assay.yaml` (see docs/agent.md), rewritten on every start."""
    agent_dir = plan.home / "agent"
    agent_dir.mkdir(parents=True, exist_ok=True)
    location: dict[str, str] = {"name": plan.location}
    if plan.module is not None:
        location["module"] = plan.module
    else:
        location["file"] = plan.file or ""
    location.update(working_directory=os.getcwd(), python=sys.executable)
    config = {
        "control_plane": {
            "address": plan.grpc_address,
            "token": "$ASSAY_AGENT_TOKEN",
            "tls": {"insecure": True},
        },
        "state_dir": str(agent_dir / "state"),
        "deployments": [DEV_DEPLOYMENT],
        "code_locations": [location],
    }
    path = agent_dir / "assay.yaml"
    path.write_text(
        "# Written by `assay dev` on every start (edits are overwritten); see docs/agent.md.\n"
        + yaml.safe_dump(config, sort_keys=False)
    )
    return path


def _print_banner(
    out: Console, plan: DevPlan, *, token: str, config: Path, verbose: bool, link: str
) -> None:
    auth = shlex.quote(f"Authorization: Bearer {token}")
    request: dict[str, object] = {"location": plan.location}
    if plan.partition_range is not None:
        request["partition_range"] = plan.partition_range
    body = shlex.quote(json.dumps(request))
    launch = (
        f"curl -sS -X POST -H {auth} -H 'Content-Type: application/json' -d {body} "
        f"{plan.deployment_api}/runs/"
    )
    api = f"{plan.base_url}/api/v1/"
    out.print(f"\n[bold green]Assay is running[/] (state in {plan.home})")
    out.print(
        f"  console:      {link}\n"
        f"                (a one-time sign-in link, valid 15 minutes; then {plan.base_url}/)\n"
        f"  API:          {api}  (docs: {api}docs/)\n"
        f"  admin token:  {token}\n"
        f"  agent gRPC:   {plan.grpc_address} (plaintext, loopback only)\n"
        f"  agent:        serving {plan.location} in {DEV_ORG}/{DEV_DEPLOYMENT} ({config})\n"
        f"  logs:         {plan.home / 'logs'}/{{web,grpc,daemon,agent}}.log"
        + ("" if verbose else " (--verbose prints them here)")
        + f"\n\nLaunch a run of every asset in {plan.location}{_partitions_note(plan)}:\n"
        f"  {launch}\n"
        "Then see its materializations in the catalog:\n"
        f"  curl -sS -H {auth} {plan.deployment_api}/assets/\n"
        "Press Ctrl-C to stop.",
        markup=False,
        emoji=False,
    )
    sys.stdout.flush()


def _partitions_note(plan: DevPlan) -> str:
    span = plan.partition_range
    return "" if span is None else f" (partitions {span['start']} .. {span['end']})"


def _report_failure(failure: ChildFailed) -> None:
    """Which child failed and why, with the tail of its log."""
    child = failure.child
    err = stderr()
    err.print(f"[bold red]error:[/] {escape(str(failure))}")
    tail = child.tail()
    if tail:
        err.print(f"last lines of {child.log_path}:", markup=False)
        err.print("\n".join(f"  {line}" for line in tail.splitlines()), markup=False, emoji=False)
    else:
        err.print(f"it wrote nothing to {child.log_path}", markup=False)
