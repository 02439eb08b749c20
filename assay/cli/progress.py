"""How `assay materialize` shows a run: a line per finished step and a live progress line.

Each finished step's line starts with `[done/total]`, so progress is visible in CI
logs too; on a terminal a live line also shows what is running now.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape

from assay.cli._common import plural, stderr, stdout
from assay.execution.events import Event, EventType


class ProgressPrinter:
    """Receives every event of one run (as `on_event`) and prints it for a person."""

    def __init__(self, *, quiet: bool) -> None:
        self.out = stdout()
        self.err = stderr()
        self.quiet = quiet
        self.total = 0
        self.done = 0
        self.counts = {"failed": 0, "skipped": 0, "materialized": 0}
        self.check_failures: list[str] = []
        self._running: dict[str, None] = {}
        # Evaluations by check steps, printed when their step finishes (with its count).
        self._pending_checks: dict[str, Event] = {}
        self._status: Any = None

    def __call__(self, event: Event) -> None:
        t = event.type
        step = event.step_key or ""
        if t is EventType.RUN_STARTED:
            self._started(event)
        elif t is EventType.STEP_STARTED:
            self._running[step] = None
            self._refresh()
        elif t is EventType.STEP_SUCCEEDED:
            count = self._finish(step)
            check = self._pending_checks.pop(step, None)
            if check is not None:
                self._print_check(check, count)
            elif not self.quiet:
                duration = event.payload.get("duration_s", 0.0)
                self.out.print(f"  {count} [green]✓[/] {escape(step)} [dim]{duration:.3f}s[/]")
        elif t is EventType.STEP_FAILED:
            self.counts["failed"] += 1
            count = self._finish(step)
            self._pending_checks.pop(step, None)
            self.err.print(f"  {count} [red]✗ {escape(event.message)}[/]")
            stack = event.payload.get("error", {}).get("stack")
            if stack:
                self.err.print(escape(_indent(stack.rstrip())), style="dim")
        elif t is EventType.STEP_SKIPPED:
            self.counts["skipped"] += 1
            count = self._finish(step)
            if not self.quiet:
                self.out.print(f"  {count} [yellow]-[/] {escape(event.message)}")
        elif t is EventType.ASSET_MATERIALIZATION:
            self.counts["materialized"] += 1
        elif t is EventType.ASSET_OBSERVATION and not self.quiet:
            version = event.payload.get("data_version")
            suffix = f" (data version {escape(str(version))})" if version else ""
            self.out.print(f"    [cyan]◎[/] observed {escape(str(event.asset_key))}{suffix}")
        elif t is EventType.ASSET_CHECK_EVALUATION:
            name = f"{event.asset_key}:{event.payload['check_name']}"
            if step == name:  # a check step: printed with its count when the step ends
                self._pending_checks[step] = event
            else:  # returned by the asset itself, inside the asset's step
                self._print_check(event, "     ")
        elif t is EventType.RUN_FAILED and event.payload.get("reason") == "interrupted":
            self.stop()
            self.err.print(f"[bold yellow]run {event.run_id[:8]} interrupted[/]: {self._counts()}")
        elif t is EventType.LOG and not self.quiet:
            level = event.payload.get("level", "")
            self.out.print(f"    [dim]{escape(f'{level} {step}: {event.message}')}[/]")

    def _started(self, event: Event) -> None:
        self.total = int(event.payload.get("steps", 0))
        if not self.quiet:
            partition = event.payload.get("partition_key")
            key_range = event.payload.get("partition_key_range")
            suffix = f" for partition {escape(partition)}" if partition else ""
            if key_range:
                suffix = f" for partitions {escape(key_range[0])} .. {escape(key_range[1])}"
            steps = plural(self.total, "step")
            self.out.print(f"run [bold]{event.run_id[:8]}[/]: {steps}{suffix}")
        if self.out.is_terminal and self.total:
            self._status = self.out.status(self._progress_text())
            self._status.start()

    def _finish(self, step: str) -> str:
        """Count a finished step; returns its `[done/total]` prefix."""
        self.done += 1
        self._running.pop(step, None)
        self._refresh()
        width = len(str(self.total))
        return f"[dim]\\[{self.done:>{width}}/{self.total}][/]"

    def _print_check(self, event: Event, prefix: str) -> None:
        p = event.payload
        name = escape(f"{event.asset_key}:{p['check_name']}")
        if p["passed"]:
            if not self.quiet:
                self.out.print(f"  {prefix} [green]✓[/] check {name} passed")
            return
        self.check_failures.append(name)
        colour = "red" if p["severity"] == "ERROR" else "yellow"
        kind = escape(f"[{p['severity']}{', blocking' if p['blocking'] else ''}]")
        detail = p.get("description") or ""
        if p["metadata"]:
            detail = f"{detail} {p['metadata']}".strip()
        self.err.print(
            f"  {prefix} [{colour}]✗ check {name} failed[/] {kind} {escape(str(detail))}".rstrip()
        )

    def _progress_text(self) -> str:
        running = ", ".join(self._running)
        now = f" · running {escape(running)}" if running else ""
        return f"{self.done}/{self.total} steps done{now}"

    def _refresh(self) -> None:
        if self._status is not None:
            self._status.update(self._progress_text())

    def stop(self) -> None:
        if self._status is not None:
            self._status.stop()
            self._status = None

    def _counts(self) -> str:
        c = self.counts
        line = f"{c['materialized']} materialized, {c['failed']} failed, {c['skipped']} skipped"
        if self.check_failures:
            line += f", {plural(len(self.check_failures), 'check')} failed"
        return line

    def summary(self, success: bool, failure: str | None, run_id: str) -> None:
        line = self._counts()
        if success:
            self.out.print(f"[bold green]run {run_id[:8]} succeeded[/]: {line}")
        else:
            self.err.print(
                f"[bold red]run {run_id[:8]} failed[/]: {escape(failure or '')} ({line})"
            )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.splitlines())
