"""`assay materialize`: run a selection of assets from a terminal, with live progress."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.markup import escape

from assay.cli._common import (
    add_location_arguments,
    handle_user_errors,
    load_from_args,
    stderr,
    stdout,
)
from assay.definitions.io_managers import FilesystemIOManager
from assay.execution.events import Event, EventType
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


def default_storage() -> str:
    home = os.environ.get("ASSAY_HOME")
    return str(Path(home, "storage")) if home else str(Path(".assay", "storage"))


def run(args: argparse.Namespace) -> int:
    defs = load_from_args(args)
    selection = args.select
    if args.job:
        if selection:
            raise_usage("pass --select or --job, not both")
        selection = defs.get_job(args.job).selection
    resources = dict(defs.resources)
    if "io_manager" not in resources or args.storage:
        resources["io_manager"] = FilesystemIOManager(base_dir=args.storage or default_storage())
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


class ProgressPrinter:
    """Prints one line per finished step and keeps a live progress line on a terminal."""

    def __init__(self, *, quiet: bool) -> None:
        self.out = stdout()
        self.err = stderr()
        self.quiet = quiet
        self.total = 0
        self.done = 0
        self.counts = {"succeeded": 0, "failed": 0, "skipped": 0, "materialized": 0}
        self.check_failures: list[str] = []
        self._status = None
        self._check_steps: set[str] = set()

    def __call__(self, event: Event) -> None:
        t = event.type
        if t is EventType.RUN_STARTED:
            self.total = int(event.payload.get("steps", 0))
            if not self.quiet:
                partition = event.payload.get("partition_key")
                suffix = f" for partition {escape(partition)}" if partition else ""
                self.out.print(f"run [bold]{event.run_id[:8]}[/]: {self.total} steps{suffix}")
            if self.out.is_terminal and self.total:
                self._status = self.out.status(self._progress_text())
                self._status.start()
        elif t is EventType.STEP_SUCCEEDED:
            self.counts["succeeded"] += 1
            self._advance()
            if not self.quiet and event.step_key not in self._check_steps:
                duration = event.payload.get("duration_s", 0.0)
                self.out.print(
                    f"  [green]✓[/] {escape(event.step_key or '')} [dim]{duration:.3f}s[/]"
                )
        elif t is EventType.STEP_FAILED:
            self.counts["failed"] += 1
            self._advance()
            self.err.print(f"  [red]✗ {escape(event.message)}[/]")
            stack = event.payload.get("error", {}).get("stack")
            if stack:
                self.err.print(escape(_indent(stack.rstrip())), style="dim")
        elif t is EventType.STEP_SKIPPED:
            self.counts["skipped"] += 1
            self._advance()
            if not self.quiet:
                self.out.print(f"  [yellow]-[/] {escape(event.message)}")
        elif t is EventType.ASSET_MATERIALIZATION:
            self.counts["materialized"] += 1
        elif t is EventType.ASSET_OBSERVATION and not self.quiet:
            version = event.payload.get("data_version")
            suffix = f" (data version {escape(str(version))})" if version else ""
            self.out.print(f"  [cyan]◎[/] observed {escape(str(event.asset_key))}{suffix}")
        elif t is EventType.ASSET_CHECK_EVALUATION:
            p = event.payload
            name = f"{event.asset_key}:{p['check_name']}"
            self._check_steps.add(name)
            if not p["passed"]:
                self.check_failures.append(name)
                colour = "red" if p["severity"] == "ERROR" else "yellow"
                blocking = " (blocking)" if p["blocking"] else ""
                self.err.print(
                    f"  [{colour}]check {escape(name)} failed[/] [{p['severity']}{blocking}] "
                    f"{escape(str(p['metadata'] or ''))}"
                )
            elif not self.quiet:
                self.out.print(f"  [green]✓[/] check {escape(name)} passed")
        elif t is EventType.LOG and not self.quiet:
            self.out.print(f"    [dim]{event.payload.get('level', '')} {escape(event.message)}[/]")

    def _progress_text(self) -> str:
        return f"{self.done}/{self.total} steps done"

    def _advance(self) -> None:
        self.done += 1
        if self._status is not None:
            self._status.update(self._progress_text())

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None
        self._check_steps: set[str] = set()

    def summary(self, success: bool, failure: str | None, run_id: str) -> None:
        c = self.counts
        line = f"{c['materialized']} materialized, {c['failed']} failed, {c['skipped']} skipped" + (
            f", {len(self.check_failures)} checks failed" if self.check_failures else ""
        )
        if success:
            self.out.print(f"[bold green]run {run_id[:8]} succeeded[/]: {line}")
        else:
            self.err.print(
                f"[bold red]run {run_id[:8]} failed[/]: {escape(failure or '')} ({line})"
            )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
