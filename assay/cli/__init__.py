"""The `assay` command line: one module per command, each exposing `register(subparsers)`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from assay.cli import automation, backfill, check, ci, dev, materialize
from assay.cli import list as list_command

# Append a command module's `register` here to add a command. (Importing the `list`
# submodule shadows the builtin in this module; use `builtins.list` if ever needed here.)
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    materialize.register,
    list_command.register,
    check.register,
    dev.register,
    automation.register,
    backfill.register,
    ci.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assay", description="Declare, run and check data assets."
    )
    from assay import __version__

    parser.add_argument("--version", action="version", version=f"assay {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the process exit code (0 ok, 1 failed run, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    return int(handler(args))
