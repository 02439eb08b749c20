"""`assay materialize`: run a selection of assets from a terminal, with live progress.

Every run is recorded in the local instance (`--instance`, default
`.assay/instance.db`), so `assay automation tick` and `assay backfill --missing` see it.
"""

from __future__ import annotations

import argparse
import json
import sys

from assay.cli._common import (
    add_location_arguments,
    add_run_arguments,
    handle_user_errors,
    load_from_args,
    raise_usage,
    resources_for_run,
    selection_from_args,
)
from assay.cli._common import default_storage as default_storage  # used by the agent
from assay.cli.progress import ProgressPrinter
from assay.execution.events import Event
from assay.execution.materialize import execute_run, resolve_executor
from assay.instance import LocalInstance
from assay.partitions import PartitionKeyRange

FAILED_RUN = 1


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "materialize",
        help="materialize assets",
        description="Materialize the selected assets (default: all) and run their checks.",
    )
    add_location_arguments(parser)
    add_run_arguments(parser)
    parser.add_argument("--tag", action="append", default=[], help="run tag key=value")
    parser.add_argument("--partition", help="the partition key to run partitioned assets for")
    parser.add_argument(
        "--from", dest="start", help="first partition key of a range run in one run (with --to)"
    )
    parser.add_argument("--to", dest="end", help="last partition key of the range (inclusive)")
    parser.add_argument("--quiet", action="store_true", help="print only failures and the summary")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print every event as one JSON object per line (for machines) instead",
    )
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    selection = selection_from_args(args, defs)
    resources = resources_for_run(defs, args.storage)
    tags = dict(_parse_tag(t) for t in args.tag)
    executor = resolve_executor(args.executor, args.max_concurrent)
    key_range = _partition_range(args)
    printer = None if args.json else ProgressPrinter(quiet=args.quiet)
    with LocalInstance(args.instance) as instance:
        try:
            result = execute_run(
                defs.asset_graph,
                resources,
                selection,
                executor=executor,
                tags=tags,
                on_event=_print_json if printer is None else printer,
                partition_key=args.partition,
                partition_key_range=key_range,
                dynamic_partitions_store=instance,
                instance=instance,
            )
        finally:
            if printer is not None:
                printer.stop()
    if printer is not None:
        printer.summary(result.success, result.failure_message, result.run_id)
    return 0 if result.success else FAILED_RUN


def _partition_range(args: argparse.Namespace) -> PartitionKeyRange | None:
    """`--from A --to B`: every partition from A to B, in one run (not a backfill's many)."""
    if args.start is None and args.end is None:
        return None
    if args.start is None or args.end is None:
        raise_usage("--from and --to go together: give the first and the last partition key")
    if args.partition is not None:
        raise_usage("give --partition or --from/--to, not both")
    return PartitionKeyRange(args.start, args.end)


def _print_json(event: Event) -> None:
    sys.stdout.write(json.dumps(event.to_dict()) + "\n")
    sys.stdout.flush()


def _parse_tag(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise_usage(f"--tag must look like key=value, got {text!r}")
    return key, value
