"""The `assay dev` command's arguments, registered with the SDK's `assay` command line through
the `assay.commands` entry point; the launcher itself is imported only when the command runs,
so `assay materialize` and friends never load it."""

from __future__ import annotations

import argparse
from pathlib import Path

from assay.cli._common import handle_user_errors

EXAMPLE_FILE = Path("examples/analytics/definitions.py")
DEV_ORG = "dev"
DEV_DEPLOYMENT = "prod"
GRPC_HOST = "127.0.0.1"  # plaintext gRPC is allowed on loopback only


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "dev",
        help="run the control plane and an agent locally with a code location (embedded SQLite)",
        description=(
            "Start, on an embedded SQLite database under --home, the control plane (web API, "
            "agent gRPC endpoint, run daemon) and one agent serving the code location in the "
            f"'{DEV_ORG}' organization's '{DEV_DEPLOYMENT}' deployment; print the API URL, an "
            "admin token and a command that launches a run. Ctrl-C stops everything."
        ),
    )
    where = parser.add_mutually_exclusive_group()
    where.add_argument("-m", "--module", help="import the code location from this module")
    where.add_argument(
        "-f", "--file", help=f"load the code location from this file (default: {EXAMPLE_FILE})"
    )
    parser.add_argument("--location-name", help="code location name (default: from the path)")
    parser.add_argument("--host", default="127.0.0.1", help="address of the web API")
    parser.add_argument("--port", type=int, default=3000, help="web API port (default 3000)")
    parser.add_argument(
        "--grpc-port", type=int, default=3001, help="agent gRPC port on 127.0.0.1 (default 3001)"
    )
    parser.add_argument("--home", default=".assay", help="state directory (default ./.assay)")
    parser.add_argument(
        "--verbose", action="store_true", help="also print every process's log here"
    )
    parser.set_defaults(handler=handle_user_errors(_run))


def _run(args: argparse.Namespace) -> int:
    from launcher.dev import run  # imported only for `assay dev`: it loads gRPC and rich

    return run(args)
