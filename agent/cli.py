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
