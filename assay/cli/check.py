"""`assay check`: load a code location and report whether its definitions are valid."""

from __future__ import annotations

import argparse

from assay.cli._common import (
    add_location_arguments,
    handle_user_errors,
    load_from_args,
    plural,
    resources_for_run,
    stdout,
)
from assay.execution.plan import build_plan
from assay.selection import select_keys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="load definitions and report errors",
        description="Load the code location and validate it "
        "(keys, dependencies, cycles, jobs, schedules, sensors, resources).",
    )
    add_location_arguments(parser)
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)  # building Definitions validates the graph and the targets
    graph = defs.asset_graph
    # Planning every asset finds resources that assets need but the location does not
    # provide, before a run would (the CLI supplies only the default IO manager).
    build_plan(graph, select_keys(graph, None), resources_for_run(defs))
    external = sum(1 for n in graph.nodes.values() if n.is_external)
    counts = ", ".join(
        plural(len(items), noun)
        for items, noun in (
            (defs.asset_checks, "check"),
            (defs.jobs, "job"),
            (defs.schedules, "schedule"),
            (defs.sensors, "sensor"),
            (defs.resources, "resource"),
        )
    )
    stdout().print(
        f"[green]ok[/]: {plural(len(graph.nodes), 'asset')} ({external} external), {counts}"
    )
    return 0
