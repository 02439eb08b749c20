"""`assay check`: load a code location and report whether its definitions are valid."""

from __future__ import annotations

import argparse

from assay.cli._common import add_location_arguments, handle_user_errors, load_from_args, stdout


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "check",
        help="load definitions and report errors",
        description="Load the code location and validate it (keys, dependencies, cycles, jobs).",
    )
    add_location_arguments(parser)
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    graph = defs.asset_graph
    external = sum(1 for n in graph.nodes.values() if n.is_external)
    stdout().print(
        f"[green]ok[/]: {len(graph.nodes)} assets ({external} external), "
        f"{len(defs.asset_checks)} checks, {len(defs.jobs)} jobs, "
        f"{len(defs.schedules)} schedules, {len(defs.sensors)} sensors, "
        f"{len(defs.resources)} resources"
    )
    return 0
