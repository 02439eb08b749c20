"""`assay automation tick`: evaluate automation conditions once against the local instance.

Prints what would run and why (one explanation tree per asset) and stores the new
cursor in the instance, so the next tick only looks at what changed. Launching the
requested runs is the daemon's job; this command only decides.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime

from rich.markup import escape

from assay.automation import AutomationCursor, evaluate_automation_conditions
from assay.cli._common import (
    add_instance_argument,
    add_location_arguments,
    handle_user_errors,
    load_from_args,
    stdout,
)
from assay.errors import AssayError
from assay.instance import LocalInstance


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "automation",
        help="evaluate declarative automation",
        description="Evaluate automation conditions against the local instance.",
    )
    commands = parser.add_subparsers(dest="automation_command", metavar="COMMAND", required=True)
    tick = commands.add_parser(
        "tick",
        help="evaluate every automation condition once and print what would run and why",
        description="Evaluate every asset's automation condition once against the local "
        "instance; print the requested runs and an explanation per asset.",
    )
    add_location_arguments(tick)
    add_instance_argument(tick, "whose runs it reads and where it keeps its cursor")
    tick.add_argument(
        "--dry-run", action="store_true", help="do not store the new cursor in the instance"
    )
    tick.add_argument("--json", action="store_true", help="print the result as one JSON object")
    tick.add_argument(
        "--all", action="store_true", help="explain every asset, not only those evaluated"
    )
    tick.add_argument(
        "--at",
        help="evaluate as of this ISO time instead of now (e.g. 2024-01-15T06:00:00+00:00)",
    )
    tick.set_defaults(handler=handle_user_errors(run_tick))


def _evaluation_time(text: str | None) -> datetime:
    if text is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise AssayError(f"--at {text!r} is not an ISO date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def run_tick(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    when = _evaluation_time(args.at)
    with LocalInstance(args.instance) as instance:
        stored = instance.get_automation_cursor()
        cursor = AutomationCursor.from_json(stored) if stored else None
        result = evaluate_automation_conditions(
            defs=defs, instance=instance, cursor=cursor, evaluation_time=when
        )
        if not args.dry_run:
            instance.set_automation_cursor(result.cursor.to_json())
    console = stdout()
    if args.json:
        console.print(json.dumps(result.to_dict()), markup=False)
        return 0
    console.print(
        f"[bold]automation tick[/] at {when.isoformat()}: evaluated {result.num_evaluated} "
        f"of {len(result.evaluations)} automated assets, {len(result.run_requests)} run(s) "
        "requested" + (" (dry run: cursor not stored)" if args.dry_run else "")
    )
    for run in result.run_requests:
        keys = ", ".join(k.to_user_string() for k in run.asset_keys)
        where = f" partition {run.partition_key}" if run.partition_key is not None else ""
        console.print(f"  run{escape(where)}: {escape(keys)}")
    for key, evaluation in result.evaluations.items():
        if not evaluation.evaluated and not args.all:
            continue
        verdict = (
            f"requested {evaluation.num_requested} partition(s)"
            if evaluation.num_requested
            else "not requested"
        )
        console.print(f"\n[bold]{escape(key.to_user_string())}[/]: {verdict}")
        if evaluation.explanation is None:
            console.print("  (not re-evaluated: nothing it depends on changed)")
            continue
        for line in evaluation.explanation.render("  "):
            console.print(escape(line))
    return 0
