"""The usage rollup: ledger rows fold into DailyUsage by cursor, exactly once, also when a
writer commits out of order, and across kill -9 restarts of the daemon's rollup loop."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime

import pytest
from django.db import connection, transaction

from billing.models import CreditLedgerEntry, DailyUsage
from billing.rollup import pending_usage, roll_up_usage
from billing.usage import usage
from control_plane.core.context import tenant_context
from tests.control_plane.billing.test_metering import DAY, event, ingest
from tests.control_plane.billing.test_metering import run as run
from tests.e2e.processes import ControlPlane, wait_for

DAY_DATE = datetime.fromtimestamp(DAY, tz=UTC).date()

pytestmark = pytest.mark.django_db(transaction=True)


def per_key(model) -> Counter:
    rows = model.objects.values_list("deployment_id", "code_location_id", "asset_key", "day")
    totals: Counter = Counter()
    for *key, credits in rows.values_list(
        "deployment_id", "code_location_id", "asset_key", "day", "credits"
    ):
        totals[tuple(key)] += credits
    return totals


def materializations(run, first: int, count: int, assets=("raw_orders", "clean_orders")):
    return [
        event(run, first + i, "asset_materialization", assets[i % len(assets)], at=DAY)
        for i in range(count)
    ]


def test_ingestion_writes_only_the_ledger_and_a_pass_folds_it_in_once(acme, run):
    ingest(acme, run, materializations(run, 1, 5))
    with tenant_context(acme.ctx()):
        assert DailyUsage.objects.count() == 0  # nothing locked in the ingest transaction
        assert sum(pending_usage().values()) == 5
    assert roll_up_usage() == 5
    assert roll_up_usage() == 0  # a second pass finds nothing new
    with tenant_context(acme.ctx()):
        assert per_key(DailyUsage) == per_key(CreditLedgerEntry)
        assert pending_usage() == Counter()


def test_a_batch_committing_after_a_later_one_is_still_rolled_up_once(acme, run):
    """Ids and transactions are taken in one order and committed in another: the cursor
    stops below the oldest open transaction, so the late batch is not skipped."""
    opened, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_batch() -> None:
        try:
            with transaction.atomic():
                ingest(acme, run, materializations(run, 100, 3))
                opened.set()
                release.wait(30)
        finally:
            connection.close()
            done.set()

    thread = threading.Thread(target=slow_batch)
    thread.start()
    assert opened.wait(30)
    # Another agent's batch of another asset (batches of one agent, or of one asset, take
    # turns on its row): begins later, commits first.
    ingest(acme, run, materializations(run, 200, 2, assets=("revenue_report",)), agent_id="a2")
    roll_up_usage()
    with tenant_context(acme.ctx()):
        seen = usage(ctx=acme.ctx(), today=DAY_DATE)
        assert seen.month_to_date == 2  # exact while the slow batch is uncommitted
    release.set()
    assert done.wait(30)
    thread.join()
    roll_up_usage()
    roll_up_usage()
    with tenant_context(acme.ctx()):
        assert sum(per_key(DailyUsage).values()) == 5
        assert per_key(DailyUsage) == per_key(CreditLedgerEntry)
        assert usage(ctx=acme.ctx(), today=DAY_DATE).month_to_date == 5


def test_the_rollup_loop_is_exactly_once_across_kill_9_restarts(acme, run, tmp_path):
    control_plane = ControlPlane(tmp_path)
    rolled = lambda: sum(DailyUsage.objects.unscoped().values_list("credits", flat=True))  # noqa: E731
    daemon = None
    try:
        sequence = 1
        for _ in range(4):
            daemon = control_plane._spawn("run_daemon", "--loops", "usage_rollup")
            for _ in range(5):
                ingest(acme, run, materializations(run, sequence, 40))
                sequence += 40
                time.sleep(0.05)
            daemon.send_signal(signal.SIGKILL)  # maybe mid-pass: its transaction aborts
            daemon.wait()
        daemon = control_plane._spawn("run_daemon", "--loops", "usage_rollup")
        wait_for(
            lambda: rolled() == 800,
            "the restarted loop to fold every row in",
            logs=(control_plane.log,),
        )
        # The loop keeps passing: nothing is folded in twice.
        time.sleep(2.5)
        with tenant_context(acme.ctx()):
            assert per_key(DailyUsage) == per_key(CreditLedgerEntry)
            assert sum(per_key(CreditLedgerEntry).values()) == 800
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGKILL)
            daemon.wait()
