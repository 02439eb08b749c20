"""The `assay` command line: one module per command, each exposing `register(subparsers)`.

Commands from outside the SDK (the product's `assay dev`, in `launcher/`) register through
the `assay.commands` entry point group, so the SDK never imports them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import entry_points

from assay.cli import automation, backfill, check, ci, materialize
from assay.cli import list as list_command

# Append a command module's `register` here to add a command. (Importing the `list`
# submodule shadows the builtin in this module; use `builtins.list` if ever needed here.)
COMMANDS: list[Callable[[argparse._SubParsersAction], None]] = [
    materialize.register,
    list_command.register,
    check.register,
    automation.register,
    backfill.register,
    ci.register,
]
PLUGIN_GROUP = "assay.commands"  # entry points: `name = "package.module:register"`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assay", description="Declare, run and check data assets."
    )
    from assay import __version__

    parser.add_argument("--version", action="version", version=f"assay {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for register in COMMANDS:
        register(subparsers)
    for plugin in sorted(entry_points(group=PLUGIN_GROUP), key=lambda entry: entry.name):
        plugin.load()(subparsers)
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
