"""`assay materialize`: run a selection of assets from a terminal, with live progress."""

from __future__ import annotations

import argparse
import json
import sys

from assay.cli._common import (
    add_location_arguments,
    handle_user_errors,
    load_from_args,
    resources_for_run,
)
from assay.cli._common import default_storage as default_storage  # used by backfill, agent
from assay.cli.progress import ProgressPrinter
from assay.execution.events import Event
from assay.execution.materialize import execute_run, resolve_executor

FAILED_RUN = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "materialize",
        help="materialize assets",
        description="Materialize the selected assets (default: all) and run their checks.",
    )
    add_location_arguments(parser)
    parser.add_argument("--select", help="selection, e.g. 'sales/*', '+daily_metrics', 'group:ml'")
    parser.add_argument("--job", help="run the selection of this job")
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process")
    parser.add_argument(
        "--max-concurrent", type=int, default=None, help="worker processes (multiprocess)"
    )
    parser.add_argument(
        "--storage",
        help="directory of the default filesystem IO manager "
        "(default: $ASSAY_HOME/storage or ./.assay/storage)",
    )
    parser.add_argument("--tag", action="append", default=[], help="run tag key=value")
    parser.add_argument("--partition", help="the partition key to run partitioned assets for")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print every event as one JSON object per line (for machines) instead",
    )
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    selection = args.select
    if args.job:
        if selection:
            raise_usage("pass --select or --job, not both")
        selection = defs.get_job(args.job).selection
    resources = resources_for_run(defs, args.storage)
    tags = dict(_parse_tag(t) for t in args.tag)
    executor = resolve_executor(args.executor, args.max_concurrent)
    graph = defs.asset_graph
    if args.json:
        result = execute_run(
            graph,
            resources,
            selection,
            executor=executor,
            tags=tags,
            on_event=_print_json,
            partition_key=args.partition,
        )
        return 0 if result.success else FAILED_RUN
    printer = ProgressPrinter(quiet=args.quiet)
    try:
        result = execute_run(
            graph,
            resources,
            selection,
            executor=executor,
            tags=tags,
            on_event=printer,
            partition_key=args.partition,
        )
    finally:
        printer.stop()
    printer.summary(result.success, result.failure_message, result.run_id)
    return 0 if result.success else FAILED_RUN


def _print_json(event: Event) -> None:
    sys.stdout.write(json.dumps(event.to_dict()) + "\n")
    sys.stdout.flush()


def raise_usage(message: str) -> None:
    from assay.errors import AssayError

    raise AssayError(message)


def _parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise_usage(f"--tag must look like key=value, got {text!r}")
    return key, value
