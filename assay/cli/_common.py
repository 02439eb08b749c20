"""Pieces the commands share: where the code location is, and printing user errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.console import Console

from assay.definitions.definitions import Definitions
from assay.definitions.io_managers import FilesystemIOManager
from assay.errors import AssayError
from assay.loading import load_definitions

USAGE_ERROR = 2


def add_location_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("-m", "--module", help="import the code location from this module")
    where.add_argument("-f", "--file", help="load the code location from this Python file")
    parser.add_argument(
        "-a", "--attribute", help="name of the Definitions object when the module has several"
    )


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """How runs execute and where they are recorded: shared by materialize and backfill."""
    parser.add_argument(
        "--select", help="selection (default: every asset), e.g. 'sales/*', '+daily_metrics'"
    )
    parser.add_argument("--job", help="use the selection of this job")
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process")
    parser.add_argument(
        "--max-concurrent", type=int, default=None, help="worker processes (multiprocess)"
    )
    parser.add_argument(
        "--storage",
        help="directory of the default filesystem IO manager "
        "(default: $ASSAY_HOME/storage or ./.assay/storage)",
    )
    add_instance_argument(parser, "which records the runs")


def add_instance_argument(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument(
        "--instance",
        metavar="PATH",
        help=f"the local instance's SQLite file, {purpose} "
        "(default: $ASSAY_HOME/instance.db or ./.assay/instance.db)",
    )


def load_from_args(args: argparse.Namespace) -> Definitions:
    return load_definitions(module=args.module, file=args.file, attribute=args.attribute)


def selection_from_args(args: argparse.Namespace, defs: Definitions) -> str | None:
    """`--select`, or the selection of `--job` (not both)."""
    if not args.job:
        return args.select
    if args.select:
        raise_usage("pass --select or --job, not both")
    return defs.get_job(args.job).selection


def raise_usage(message: str) -> None:
    """A wrong combination of options: printed as an error, exit code 2."""
    raise AssayError(message)


def default_storage() -> str:
    home = os.environ.get("ASSAY_HOME")
    return str(Path(home, "storage")) if home else str(Path(".assay", "storage"))


def resources_for_run(defs: Definitions, storage: str | None = None) -> dict[str, Any]:
    """The code location's resources plus the CLI's default filesystem IO manager.

    `storage` (from --storage) replaces the location's own `io_manager`.
    """
    resources = dict(defs.resources)
    if "io_manager" not in resources or storage:
        resources["io_manager"] = FilesystemIOManager(base_dir=storage or default_storage())
    return resources


def plural(count: int, noun: str) -> str:
    """`1 step`, `3 steps`."""
    return f"{count} {noun}" + ("" if count == 1 else "s")


def stdout() -> Console:
    return Console(highlight=False, soft_wrap=True)


def stderr() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def handle_user_errors(command: Callable[[argparse.Namespace], int]) -> Callable[[Any], int]:
    """Turn Assay's typed errors into a readable message and exit code 2 (no traceback)."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except AssayError as exc:
            stderr().print(f"[bold red]error:[/] {_escape(str(exc))}")
            return USAGE_ERROR
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130

    return run


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
