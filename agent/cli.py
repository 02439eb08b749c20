"""`assay-agent`: the agent's command line (parse, call one function, print)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.config import AgentConfig, ConfigError, load_config

EXIT_OK = 0
EXIT_CHECK_FAILED = 1  # init/doctor: a check failed (each one says why)
EXIT_USAGE = 2  # invalid config or arguments: nothing was started
EXIT_INTERRUPTED = 130  # a second SIGTERM/SIGINT cut the clean shutdown short


def build_parser() -> argparse.ArgumentParser:
    from assay import __version__

    parser = argparse.ArgumentParser(
        prog="assay-agent",
        description="The Assay hybrid agent: serves code locations and runs what the control "
        "plane queues, inside your network.",
    )
    parser.add_argument("--version", action="version", version=f"assay-agent {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    check = commands.add_parser(
        "check-config", help="validate assay.yaml and print what the agent would serve"
    )
    check.add_argument("--config", default="assay.yaml", help="path to assay.yaml")
    check.set_defaults(handler=check_config)

    init = commands.add_parser(
        "init", help="write assay.yaml for a control plane and token, then check it works"
    )
    init.add_argument("--url", required=True, help="the control plane's agent endpoint, host:port")
    init.add_argument(
        "--token",
        default=None,
        help="the agent token; '-' reads it from stdin; default: $ASSAY_AGENT_TOKEN, written "
        "as a reference to that variable so the file holds no secret",
    )
    init.add_argument("--config", default="assay.yaml", help="file to write (must not exist)")
    init.add_argument("--deployment", action="append", help="deployment to serve (default prod)")
    init.add_argument("--location-name", default="main", help="name of the code location")
    where = init.add_mutually_exclusive_group(required=True)
    where.add_argument("--module", help="Python module of the code location's Definitions")
    where.add_argument("--file", help="Python file of the code location's Definitions")
    init.add_argument("--state-dir", default=".assay-agent", help="where the agent keeps state")
    init.add_argument("--ca-file", help="PEM CA that signed the control plane's certificate")
    init.add_argument(
        "--insecure", action="store_true", help="plaintext gRPC (loopback control planes only)"
    )
    init.add_argument(
        "--no-check",
        action="store_true",
        help="write the file without contacting the control plane",
    )
    init.set_defaults(handler=init_agent)

    doctor = commands.add_parser("doctor", help="explain in plain words why a setup fails")
    doctor.add_argument("--config", default="assay.yaml", help="path to assay.yaml")
    doctor.set_defaults(handler=doctor_agent)

    run = commands.add_parser("run", help="connect to the control plane and serve until stopped")
    run.add_argument("--config", default="assay.yaml", help="path to assay.yaml")
    run.set_defaults(handler=run_agent)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    return int(handler(args))


def check_config(args: argparse.Namespace) -> int:
    """Validate the config; print a summary (token masked) or the field that is wrong."""
    try:
        config = load_config(args.config)
        _check_state_dir_is_writable(config.state_dir)
    except ConfigError as exc:
        print(f"assay-agent: invalid config {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(describe_config(config))
    return EXIT_OK


def run_agent(args: argparse.Namespace) -> int:
    """Serve until SIGTERM/SIGINT, then stop taking runs, let them finish, flush, exit 0."""
    try:
        config = load_config(args.config)
        _check_state_dir_is_writable(config.state_dir)
    except ConfigError as exc:
        print(f"assay-agent: invalid config {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    from agent.runtime import Agent

    logging.basicConfig(
        level=os.environ.get("ASSAY_AGENT_LOG_LEVEL", "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    agent = Agent(config)

    stopping = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stopping
        name = signal.Signals(signum).name
        if stopping:  # a second signal: leave now; the outbox is durable, nothing is lost
            logging.getLogger("agent").warning("received %s again: exiting at once", name)
            os._exit(EXIT_INTERRUPTED)
        stopping = True
        logging.getLogger("agent").info("received %s: shutting down (again to force)", name)
        agent.stop()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    agent.serve()
    return EXIT_OK


def init_agent(args: argparse.Namespace) -> int:
    """Write assay.yaml (0600), validate it, run the doctor's checks, say what to do next."""
    from agent.setup import write_config

    path = Path(args.config)
    if path.exists():
        print(f"assay-agent: {path} exists; remove it or give --config", file=sys.stderr)
        return EXIT_USAGE
    if args.token == "-":
        token = sys.stdin.readline().strip()
    elif args.token:
        token = args.token
    elif os.environ.get("ASSAY_AGENT_TOKEN"):
        token = "${ASSAY_AGENT_TOKEN}"
    else:
        print(
            "assay-agent: give --token TOKEN, --token - (stdin) or set ASSAY_AGENT_TOKEN",
            file=sys.stderr,
        )
        return EXIT_USAGE
    if not token:
        print("assay-agent: the token read from stdin is empty", file=sys.stderr)
        return EXIT_USAGE
    write_config(
        path,
        address=args.url.removeprefix("grpcs://").removeprefix("grpc://").rstrip("/"),
        token=token,
        deployments=args.deployment or ["prod"],
        location_name=args.location_name,
        module=args.module,
        file=args.file,
        state_dir=args.state_dir,
        ca_file=args.ca_file,
        insecure=args.insecure,
    )
    try:
        config = load_config(path)
    except ConfigError as exc:
        path.unlink()
        print(f"assay-agent: not written, the settings are invalid: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {path} (mode 0600; token {config.control_plane.token.masked})")
    if not args.no_check and not _report_checks(config):
        print(f"fix the above, then run: assay-agent doctor --config {path}")
        return EXIT_CHECK_FAILED
    print(f"next: assay-agent run --config {path}   (or install the systemd unit: docs/deploy.md)")
    return EXIT_OK


def doctor_agent(args: argparse.Namespace) -> int:
    """Run every check and explain the failing ones; exit 1 when any fails."""
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"assay-agent: invalid config {args.config}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if _report_checks(config) else EXIT_CHECK_FAILED


def _report_checks(config: AgentConfig) -> bool:
    from agent.setup import diagnose

    ok = True
    for check in diagnose(config):
        ok = ok and check.ok
        print(f"{'ok  ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
    return ok


def describe_config(config: AgentConfig) -> str:
    """A person-readable summary; shows the token only masked and env values not at all."""
    cp = config.control_plane
    if cp.tls.insecure:
        transport = "plaintext, no TLS"
    elif cp.tls.ca_file is not None:
        transport = f"TLS, CA {cp.tls.ca_file}"
    else:
        transport = "TLS, system trusted roots"
    token = (
        cp.token.masked if cp.token_source == "inline" else f"{cp.token_source} ({cp.token.masked})"
    )
    lines = [
        f"{config.source}: valid",
        f"  control plane   {cp.address} ({transport})",
        f"  token           {token}",
        f"  state dir       {config.state_dir}",
        f"  deployments     {', '.join(config.deployments)}",
        f"  code locations  {len(config.code_locations)}",
    ]
    if config.launcher is not None:
        kube = config.launcher
        lines.insert(
            -1,
            f"  launcher        kubernetes Jobs, image {kube.image} in namespace {kube.namespace}",
        )
    for location in config.code_locations:
        lines.append(f"    {location.name}: {location.target}")
        lines.append(f"      working directory  {location.working_directory}")
        lines.append(f"      python             {location.python}")
        if location.env:
            lines.append(f"      env                {', '.join(sorted(location.env))}")
    return "\n".join(lines)


def _check_state_dir_is_writable(state_dir: Path) -> None:
    existing = state_dir
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise ConfigError("state_dir", f"{existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        what = (
            "is not writable"
            if existing == state_dir
            else f"cannot be created ({existing} is not writable)"
        )
        raise ConfigError("state_dir", f"{state_dir} {what}")
