"""`assay backfill`: materialize a range of partitions locally, run by run, with progress."""

from __future__ import annotations

import argparse
import time
from collections import defaultdict
from pathlib import Path

from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay.backfill import BackfillState, BackfillStatus, execute_backfill, plan_backfill
from assay.cli._common import (
    add_location_arguments,
    handle_user_errors,
    load_from_args,
    stderr,
    stdout,
)
from assay.cli.materialize import default_storage, raise_usage
from assay.definitions.io_managers import FilesystemIOManager
from assay.execution.materialize import resolve_executor
from assay.execution.result import ExecutionResult
from assay.partitions import PartitionKeyRange

FAILED = 1
INTERRUPTED = 130


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "backfill",
        help="materialize a range of partitions",
        description="Plan and run a backfill: one run per partition (or per chunk, as each "
        "asset's backfill policy says); a failed partition skips only what depends on it.",
    )
    add_location_arguments(parser)
    parser.add_argument("--select", help="selection (default: all assets)")
    parser.add_argument("--job", help="backfill the selection of this job")
    parser.add_argument("--from", dest="start", help="first partition key (inclusive)")
    parser.add_argument("--to", dest="end", help="last partition key (inclusive)")
    parser.add_argument(
        "--partition", action="append", default=[], help="one partition key (repeatable)"
    )
    parser.add_argument("--executor", choices=["in_process", "multiprocess"], default="in_process")
    parser.add_argument(
        "--max-concurrent", type=int, default=None, help="worker processes (multiprocess)"
    )
    parser.add_argument("--storage", help="directory of the default filesystem IO manager")
    parser.add_argument("--state-file", help="write the backfill state (JSON) here at the end")
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    selection = args.select
    if args.job:
        if selection:
            raise_usage("pass --select or --job, not both")
        selection = defs.get_job(args.job).selection
    key_range = None
    if args.start or args.end:
        if not (args.start and args.end):
            raise_usage("pass both --from and --to")
        if args.partition:
            raise_usage("pass --from/--to or --partition, not both")
        key_range = PartitionKeyRange(args.start, args.end)
    elif not args.partition:
        raise_usage("say which partitions: --from KEY --to KEY, or --partition KEY")
    plan = plan_backfill(
        defs.asset_graph,
        selection,
        partition_key_range=key_range,
        partition_keys=args.partition or None,
    )
    state = BackfillState(plan, backfill_id=f"backfill-{int(time.time())}")
    resources = dict(defs.resources)
    if "io_manager" not in resources or args.storage:
        resources["io_manager"] = FilesystemIOManager(base_dir=args.storage or default_storage())
    executor = resolve_executor(args.executor, args.max_concurrent)
    out, err = stdout(), stderr()
    out.print(
        f"backfill: {len(plan.runs)} runs, {plan.num_partitions} asset partitions "
        f"({args.start or ', '.join(args.partition)}{' .. ' + args.end if args.end else ''})"
    )
    progress = Progress(
        TextColumn("[bold]backfill"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("runs"),
        TimeElapsedColumn(),
        console=out,
        transient=True,
    )
    task = progress.add_task("runs", total=len(plan.runs))

    def finished(index: int, result: ExecutionResult | None) -> None:
        run_ = state.runs[index]
        status = state.status(index)
        if status is BackfillStatus.SUCCEEDED:
            progress.console.print(f"  [green]✓[/] {escape(run_.describe())}")
        else:
            reason = state.progress[index].reason or ""
            progress.console.print(f"  [red]✗ {escape(run_.describe())}[/]: {escape(reason)}")
        progress.update(task, completed=_done(state))

    interrupted = False
    with progress:
        try:
            execute_backfill(
                state,
                graph=defs.asset_graph,
                resources=resources,
                executor=executor,
                tags={"assay/backfill": state.backfill_id},
                on_run_finished=finished,
            )
        except KeyboardInterrupt:
            interrupted = True
    _print_summary(out, state)
    if args.state_file:
        Path(args.state_file).write_text(state.to_json())
    counts = state.counts()
    if interrupted:
        err.print(
            f"[bold yellow]interrupted[/]: {counts['succeeded']} runs succeeded, "
            f"{counts['failed']} failed, {counts['canceled']} canceled (not run)"
        )
        return INTERRUPTED
    if state.has_failures:
        err.print(
            f"[bold red]backfill failed[/]: {counts['failed']} runs failed, "
            f"{counts['skipped']} skipped because of them, {counts['succeeded']} succeeded"
        )
        return FAILED
    out.print(f"[bold green]backfill succeeded[/]: {counts['succeeded']} runs")
    return 0


def _done(state: BackfillState) -> int:
    return sum(p.status is not BackfillStatus.REQUESTED for p in state.progress)


def _print_summary(out, state: BackfillState) -> None:  # type: ignore[no-untyped-def]
    """One row per asset: partitions succeeded / failed / skipped / canceled."""
    per_asset: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, _partition, status in state.partition_statuses():
        per_asset[key.to_user_string()][status.value] += 1
    table = Table(title="backfill summary")
    table.add_column("asset")
    columns = ["succeeded", "failed", "skipped", "canceled"]
    for column in columns:
        table.add_column(column, justify="right")
    for asset, by_status in per_asset.items():
        table.add_row(escape(asset), *(str(by_status.get(c, 0)) for c in columns))
    out.print(table)
    failures = [
        (run.describe(), p.status.value, p.reason)
        for run, p in zip(state.runs, state.progress, strict=True)
        if p.status in (BackfillStatus.FAILED, BackfillStatus.SKIPPED)
    ]
    for what, outcome, reason in failures[:20]:
        out.print(f"  {outcome}: {escape(what)}: {escape(reason or '')}")
    if len(failures) > 20:
        out.print(f"  ... and {len(failures) - 20} more")
