"""``python -m control_plane run_daemon``: the dequeuer and run monitoring, in a loop.

Stateless over the database, so several replicas may run (see ``runs.queue``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections

from control_plane.runs.monitoring import monitor_runs
from control_plane.runs.queue import dequeue_runs

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Run the run queue's dequeuer and run monitoring until stopped."

    def add_arguments(self, parser):
        parser.add_argument(
            "--monitor-every", type=float, default=5.0, help="seconds between monitoring passes"
        )
        parser.add_argument("--once", action="store_true", help="one pass of each, then exit")

    def handle(self, *args, monitor_every, once, **options):
        stopped = threading.Event()
        if not once:
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stopped.set())
            self.stdout.write("run daemon started")
            self.stdout.flush()
        next_monitor = 0.0
        while not stopped.is_set():
            close_old_connections()
            try:
                assigned = dequeue_runs()
                if time.monotonic() >= next_monitor:
                    report = monitor_runs()
                    next_monitor = time.monotonic() + monitor_every
                    if report.sessions_lost or report.runs_failed or report.runs_requeued:
                        log.info("monitoring: %s", report)
            except Exception:
                log.exception("run daemon pass failed; retrying")
                assigned = []
                stopped.wait(1.0)
            if once:
                break
            if not assigned:
                stopped.wait(settings.RUN_DISPATCH_POLL_SECONDS)
