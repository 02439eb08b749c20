"""``python -m control_plane run_daemon``: every background loop of the control plane.

Its loops, each in a thread of its own (``control_plane.daemon.all_loops``): ``queue``
(the run queue), ``monitor`` (lost agents and their runs), ``schedules``, ``sensors``,
``automation`` (declarative automation), ``alerts`` (delivery), ``freshness``,
``backfills``, ``retention`` (pruning old ticks), ``branches``, and the loops apps add
through ``core.hooks`` (billing: ``usage_rollup``, ``billing``, ``budgets``). Stateless over
the database, so several replicas may run.
"""

from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand, CommandError

from control_plane.daemon import all_loops, run_loops, run_pass


class Command(BaseCommand):
    help = (
        "Run the control plane's background loops (queue, schedules, sensors, ...) until stopped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--loops",
            default="",
            help="comma-separated loops to run (default: all); e.g. queue,monitor",
        )
        parser.add_argument("--once", action="store_true", help="one pass of each, then exit")

    def handle(self, *args, loops, once, **options):
        available = all_loops()
        chosen = available
        if loops.strip():
            names = [n.strip() for n in loops.split(",") if n.strip()]
            known = {loop.name for loop in available}
            unknown = [n for n in names if n not in known]
            if unknown:
                raise CommandError(
                    f"unknown loop(s) {', '.join(unknown)}; choose from {', '.join(sorted(known))}"
                )
            chosen = [loop for loop in available if loop.name in names]
        if once:
            for loop in chosen:
                run_pass(loop)  # a pass that raises is logged with its traceback
            self.stdout.write(f"one pass of: {', '.join(loop.name for loop in chosen)}")
            return
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        self.stdout.write(f"run daemon started: {', '.join(loop.name for loop in chosen)}")
        self.stdout.flush()
        run_loops(chosen, stop=stop)
