"""The daemon: every background loop of the control plane, each in its own thread.

One thread per loop, so a slow pass of one (sensors waiting on agents, a large
automation tick) never delays another (the run queue dispatches within milliseconds).
Every loop is stateless over the database and safe with several replicas: what must
happen once is claimed there (row locks with SKIP LOCKED, unique tick rows, leases).
A pass that raises is logged with its traceback and retried on the next interval; it
never stops the daemon.

The run queue is woken on PostgreSQL by a NOTIFY from whatever may make a run assignable
(``core.wakeups``), so it passes at once then and otherwise only every
``RUN_DISPATCH_FALLBACK_SECONDS``; on SQLite it polls every ``RUN_DISPATCH_POLL_SECONDS``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db import close_old_connections, connection

from control_plane.core import hooks, wakeups

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Loop:
    """One background job: ``run()`` does one pass every ``interval`` seconds."""

    name: str
    interval: float
    run: Callable[[], object]
    # A pass that found work runs again at once (the run queue drains without waiting).
    drain: bool = False
    # A ``core.wakeups`` channel whose notifications start a pass at once; ``interval``
    # then applies only where there is no NOTIFY (SQLite).
    wake_on: str | None = None


def all_loops() -> list[Loop]:
    """Every loop, in a stable order (``run_daemon --loops`` picks among these names)."""
    from control_plane.alerts.delivery import deliver_due
    from control_plane.audit.services import checkpoint_heads
    from control_plane.automation.declarative import tick_automation
    from control_plane.automation.freshness import check_freshness
    from control_plane.automation.retention import prune
    from control_plane.automation.schedules import tick_schedules
    from control_plane.automation.sensors import tick_sensors
    from control_plane.backfills.loop import tick_backfills
    from control_plane.branches.github import refresh_comments
    from control_plane.branches.services import tick_branches
    from control_plane.runs.monitoring import monitor_runs
    from control_plane.runs.queue import dequeue_runs

    def deliver() -> object:
        return deliver_due().attempted

    return [
        Loop(
            "queue",
            settings.RUN_DISPATCH_POLL_SECONDS,
            dequeue_runs,
            drain=True,
            wake_on=wakeups.RUN_QUEUE,
        ),
        Loop("monitor", settings.DAEMON_MONITOR_SECONDS, monitor_runs),
        Loop("schedules", settings.DAEMON_SCHEDULE_SECONDS, tick_schedules),
        Loop("sensors", settings.DAEMON_SENSOR_SECONDS, tick_sensors),
        Loop("automation", settings.DAEMON_AUTOMATION_SECONDS, tick_automation),
        Loop("alerts", settings.DAEMON_ALERT_SECONDS, deliver, drain=True),
        Loop("freshness", settings.DAEMON_FRESHNESS_SECONDS, check_freshness),
        Loop("backfills", settings.DAEMON_BACKFILL_SECONDS, tick_backfills),
        Loop("retention", settings.DAEMON_RETENTION_SECONDS, prune),
        Loop("branches", settings.DAEMON_BRANCHES_SECONDS, tick_branches),
        Loop("branch_comments", settings.DAEMON_BRANCH_COMMENTS_SECONDS, refresh_comments),
        Loop("audit", settings.DAEMON_AUDIT_CHECKPOINT_SECONDS, checkpoint_heads),
        # Loops of apps outside the core (billing's Stripe usage reporting).
        *(Loop(name, interval, run) for name, (interval, run) in hooks.daemon_loops().items()),
    ]


def run_pass(loop: Loop) -> object:
    """One pass with fresh database connections; errors are logged, not raised."""
    close_old_connections()
    try:
        return loop.run()
    except Exception:
        log.exception(
            "daemon loop %r: the pass failed; retrying in %.1f s", loop.name, loop.interval
        )
        return None


def _serve(loop: Loop, stop: threading.Event, wake: threading.Event) -> None:
    """Pass after pass until ``stop``; ``wake`` (set by a notification, or to stop) ends a
    wait early."""
    woken = wakeups.subscribe(loop.wake_on, "", wake.set) if loop.wake_on else None
    interval = settings.RUN_DISPATCH_FALLBACK_SECONDS if woken else loop.interval
    try:
        while not stop.is_set():
            started = time.monotonic()
            wake.clear()  # a notification during the pass means another pass at once
            found = run_pass(loop)
            if loop.drain and found:
                continue
            wake.wait(max(0.0, interval - (time.monotonic() - started)))
    finally:
        if woken is not None:
            woken.close()
        connection.close()


def run_loops(loops: Iterable[Loop], *, stop: threading.Event) -> None:
    """Run each loop in its own thread until ``stop`` is set, then wait for them."""
    loops = list(loops)
    wakes = [threading.Event() for _ in loops]
    threads = [
        threading.Thread(
            target=_serve, args=(loop, stop, wake), name=f"daemon-{loop.name}", daemon=True
        )
        for loop, wake in zip(loops, wakes, strict=True)
    ]
    for thread in threads:
        thread.start()
    stop.wait()
    for wake in wakes:
        wake.set()
    for thread in threads:
        thread.join()
