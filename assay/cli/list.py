"""`assay list`: the assets of a code location with their groups and dependencies."""

from __future__ import annotations

import argparse
import json
from typing import Any

from rich.table import Table

from assay.cli._common import add_location_arguments, handle_user_errors, load_from_args, stdout
from assay.selection import select_keys


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "list",
        help="list assets (keys, groups, deps)",
        description="List the assets of a code location in dependency order.",
    )
    add_location_arguments(parser)
    parser.add_argument("--select", help="only assets matching this selection")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of a table")
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    graph = defs.asset_graph
    keys = graph.sort(select_keys(graph, args.select)) if args.select else list(graph.toposorted)
    rows: list[dict[str, Any]] = []
    for key in keys:
        node = graph.nodes[key]
        rows.append(
            {
                "key": key.to_user_string(),
                "group": node.spec.group_name or "default",
                "kinds": sorted(node.spec.kinds),
                "deps": [p.to_user_string() for p in node.parents],
                "checks": [c.spec.name for c in graph.checks_by_asset.get(key, ())],
                "external": node.is_external,
            }
        )
    console = stdout()
    if args.json:
        for row in rows:
            console.print(json.dumps(row), markup=False)
        return 0
    table = Table(title=f"{len(rows)} assets", title_justify="left")
    for column in ("key", "group", "kinds", "deps", "checks"):
        table.add_column(column)
    for row in rows:
        key = row["key"] + (" (external)" if row["external"] else "")
        table.add_row(
            key,
            row["group"],
            ", ".join(row["kinds"]),
            ", ".join(row["deps"]),
            ", ".join(row["checks"]),
        )
    console.print(table)
    return 0
