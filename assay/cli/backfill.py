"""`assay backfill`: materialize a range of partitions locally, run by run, with progress.

Runs are recorded in the local instance (so `assay automation tick` and a later
`--missing` backfill see them), which also holds dynamic partition keys. The state is
saved as JSON after every run, so an interrupted or failed backfill continues with
`--resume STATE_FILE`.
"""

from __future__ import annotations

import argparse
import shlex
import time
import uuid
from collections import defaultdict
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from assay.backfill import (
    BackfillState,
    BackfillStateError,
    BackfillStatus,
    execute_backfill,
    plan_backfill,
)
from assay.cli._common import (
    add_location_arguments,
    add_run_arguments,
    handle_user_errors,
    load_from_args,
    plural,
    raise_usage,
    resources_for_run,
    selection_from_args,
    stderr,
    stdout,
)
from assay.definitions.definitions import Definitions
from assay.execution.materialize import resolve_executor
from assay.execution.result import ExecutionResult
from assay.instance import LocalInstance, default_instance_path
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
    add_run_arguments(parser)
    parser.add_argument("--from", dest="start", help="first partition key (inclusive)")
    parser.add_argument("--to", dest="end", help="last partition key (inclusive)")
    parser.add_argument(
        "--partition", action="append", default=[], help="one partition key (repeatable)"
    )
    parser.add_argument(
        "--missing",
        action="store_true",
        help="every partition the instance has never seen materialized",
    )
    parser.add_argument(
        "--resume",
        metavar="STATE_FILE",
        help="continue a saved backfill: run what was canceled, failed or skipped",
    )
    parser.add_argument(
        "--state-file",
        help="where to save the backfill state (JSON) after every run (default: a file "
        "under the instance's directory, printed at the end)",
    )
    parser.set_defaults(handler=handle_user_errors(run))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    with LocalInstance(args.instance) as instance:
        if args.resume:
            state, state_path, what = _resumed(args, defs)
        else:
            state, what = _planned(args, defs, instance)
            if not state.runs:
                stdout().print(f"nothing to backfill ({escape(what)}): it is all materialized")
                return 0
            state_path = Path(args.state_file or _default_state_path(args, state))
        return _execute(args, defs, instance, state, state_path, what)


def _planned(
    args: argparse.Namespace, defs: Definitions, instance: LocalInstance
) -> tuple[BackfillState, str]:
    """A new backfill from the command line's selection and partitions."""
    selection = selection_from_args(args, defs)
    chosen = [bool(args.start or args.end), bool(args.partition), args.missing]
    if sum(chosen) > 1:
        raise_usage("pass one of --from/--to, --partition or --missing")
    key_range = None
    if args.start or args.end:
        if not (args.start and args.end):
            raise_usage("pass both --from and --to")
        key_range = PartitionKeyRange(args.start, args.end)
        what = f"{args.start} .. {args.end}"
    elif args.partition:
        what = ", ".join(args.partition)
    elif args.missing:
        what = "every missing partition"
    else:
        raise_usage(
            "say which partitions: --from KEY --to KEY, --partition KEY, --missing, "
            "or --resume STATE_FILE"
        )
    plan = plan_backfill(
        defs.asset_graph,
        selection,
        partition_key_range=key_range,
        partition_keys=args.partition or None,
        missing_in=instance if args.missing else None,
        dynamic_partitions_store=instance,
    )
    backfill_id = f"backfill-{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
    return BackfillState(plan, backfill_id=backfill_id), what


def _resumed(args: argparse.Namespace, defs: Definitions) -> tuple[BackfillState, Path, str]:
    """A saved backfill, with its canceled, failed and skipped runs requested again."""
    if args.start or args.end or args.partition or args.missing or args.select or args.job:
        raise_usage("--resume continues a saved backfill: it takes no selection or partitions")
    path = Path(args.resume)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BackfillStateError(f"cannot read the backfill state {path}: {exc.strerror}") from exc
    state = BackfillState.from_json(text)
    known = set(defs.asset_graph.nodes)
    unknown = sorted(
        {k.to_user_string() for run in state.runs for k in run.asset_keys if k not in known}
    )
    if unknown:
        raise BackfillStateError(
            f"the saved backfill names assets this code location does not have: {unknown}"
        )
    if any(p.status is BackfillStatus.IN_PROGRESS for p in state.progress):
        raise BackfillStateError(
            f"{state.backfill_id} has runs in progress: is another `assay backfill` running it?"
        )
    again = len(state.resume()) + len(state.retry_failed())
    if not again and state.is_finished:
        raise BackfillStateError(
            f"{state.backfill_id} has nothing left to run: every run succeeded"
        )
    return state, Path(args.state_file or path), f"resuming {state.backfill_id}"


def _default_state_path(args: argparse.Namespace, state: BackfillState) -> Path:
    instance_path = Path(args.instance) if args.instance else default_instance_path()
    return instance_path.parent / "backfills" / f"{state.backfill_id}.json"


def _execute(
    args: argparse.Namespace,
    defs: Definitions,
    instance: LocalInstance,
    state: BackfillState,
    state_path: Path,
    what: str,
) -> int:
    resources = resources_for_run(defs, args.storage)
    executor = resolve_executor(args.executor, args.max_concurrent)
    out, err = stdout(), stderr()
    plan = state.plan
    to_run = sum(p.status is BackfillStatus.REQUESTED for p in state.progress)
    out.print(
        f"backfill {state.backfill_id}: {plural(len(plan.runs), 'run')}, "
        f"{plural(plan.num_partitions, 'asset partition')} ({escape(what)})"
        + (f"; {to_run} to run" if to_run != len(plan.runs) else "")
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
    task = progress.add_task("runs", total=len(plan.runs), completed=_done(state))
    try:  # resumable even if the first run never ends; checked before anything runs
        state_path.parent.mkdir(parents=True, exist_ok=True)
        state_path.write_text(state.to_json())
    except OSError as exc:
        raise BackfillStateError(
            f"cannot write the backfill state to {state_path}: {exc.strerror}"
        ) from exc

    def finished(index: int, result: ExecutionResult | None) -> None:
        state_path.write_text(state.to_json())
        progress.update(task, completed=_done(state))
        run_ = state.runs[index]
        if state.status(index) is BackfillStatus.SUCCEEDED:
            progress.console.print(f"  [green]✓[/] {escape(run_.describe())}")
        else:
            reason = state.progress[index].reason or ""
            progress.console.print(f"  [red]✗ {escape(run_.describe())}[/]: {escape(reason)}")

    interrupted = False
    with progress:
        try:
            execute_backfill(
                state,
                graph=defs.asset_graph,
                resources=resources,
                executor=executor,
                dynamic_partitions_store=instance,
                instance=instance,
                on_run_finished=finished,
            )
        except KeyboardInterrupt:
            interrupted = True
    state_path.write_text(state.to_json())
    _print_summary(out, state)
    counts = state.counts()
    resume = _resume_command(args, state_path)
    if interrupted:
        err.print(
            f"[bold yellow]interrupted[/]: {plural(counts['succeeded'], 'run')} succeeded, "
            f"{counts['failed']} failed, {counts['canceled']} canceled (not run)"
        )
        err.print(f"continue with: {escape(resume)}")
        return INTERRUPTED
    if state.has_failures:
        err.print(
            f"[bold red]backfill failed[/]: {plural(counts['failed'], 'run')} failed, "
            f"{counts['skipped']} skipped because of them, {counts['succeeded']} succeeded"
        )
        err.print(f"retry what failed with: {escape(resume)}")
        return FAILED
    out.print(f"[bold green]backfill succeeded[/]: {plural(counts['succeeded'], 'run')}")
    out.print(f"state: {escape(str(state_path))}")
    return 0


def _resume_command(args: argparse.Namespace, state_path: Path) -> str:
    """The command that continues this backfill: the same location, instance, storage and
    executor (a resume writing elsewhere would leave later partitions without inputs)."""
    argv = ["assay", "backfill", *(["-m", args.module] if args.module else ["-f", args.file])]
    for flag, value in [
        ("-a", args.attribute),
        ("--instance", args.instance),
        ("--storage", args.storage),
        ("--executor", None if args.executor == "in_process" else args.executor),
        ("--max-concurrent", args.max_concurrent),
    ]:
        if value is not None:
            argv += [flag, str(value)]
    return shlex.join([*argv, "--resume", str(state_path)])


def _done(state: BackfillState) -> int:
    return sum(p.status is not BackfillStatus.REQUESTED for p in state.progress)


def _print_summary(out: Console, state: BackfillState) -> None:
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
