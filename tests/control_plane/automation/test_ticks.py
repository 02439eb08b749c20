"""Recording ticks: what a killed daemon left started is failed in the end, batches record
like single ticks, and failing loops open (and resolve) tick-failure incidents."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest

from control_plane.alerts.models import Incident
from control_plane.automation import ticks
from control_plane.automation.declarative import tick_automation
from control_plane.automation.freshness import check_freshness
from control_plane.automation.models import DaemonTick
from control_plane.automation.retention import prune
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.automation.history import SHOP, load_definitions

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def prod(acme):
    with tenant_context(acme.ctx()):
        return queries.get_deployment(name="prod")


def _claim(prod, loop: str, *, at: datetime, name: str = "", location: str = "") -> DaemonTick:
    tick = ticks.claim_tick(
        deployment=prod,
        loop=loop,
        name=name,
        location_name=location,
        tick_key=at.isoformat(),
        now=at,
    )
    assert tick is not None
    return tick


def _open_tick_failures() -> dict[str, Incident]:
    return {
        i.key: i
        for i in Incident.objects.unscoped().filter(kind="tick_failure", resolved_at__isnull=True)
    }


def test_ticks_a_killed_daemon_left_started_fail_after_ten_minutes_then_are_pruned(acme, prod):
    with tenant_context(acme.ctx()):
        old = [_claim(prod, loop, at=T0) for loop in ("freshness", "automation", "backfill")]
        young = _claim(prod, "freshness", at=T0 + timedelta(minutes=5))

        assert prune(now=T0 + timedelta(minutes=12), days=30).abandoned == 3

        for tick in old:
            tick.refresh_from_db()
            assert tick.status == "failure" and tick.finished_at is not None
            assert tick.error == "the daemon stopped before finishing this tick"
        young.refresh_from_db()
        assert young.status == "started"
        # The automation loop alerts on its failures (the others do not).
        assert list(_open_tick_failures()) == ["automation"]

        # Failed ticks are pruned like any other; each loop's latest stays.
        later = _claim(prod, "backfill", at=T0 + timedelta(days=40))
        pruned = prune(now=T0 + timedelta(days=40, minutes=1), days=30)
        assert pruned.ticks >= 1 and later.pk in DaemonTick.objects.values_list("pk", flat=True)
        assert not DaemonTick.objects.filter(pk=old[2].pk).exists()


def test_each_tick_loop_fails_its_own_abandoned_ticks_on_its_next_pass(acme, prod):
    with tenant_context(acme.ctx()):
        freshness = _claim(prod, "freshness", at=T0)
        automation = _claim(prod, "automation", at=T0)
    later = T0 + timedelta(minutes=11)
    check_freshness(now=later)
    freshness.refresh_from_db()
    automation.refresh_from_db()
    assert (freshness.status, automation.status) == ("failure", "started")
    tick_automation(now=later)
    automation.refresh_from_db()
    assert automation.status == "failure"


def test_failing_automation_ticks_open_one_incident_and_a_later_tick_resolves_it(acme, prod):
    load_definitions(acme.ctx(), prod, "shop", SHOP)
    stored = LocationSnapshot.objects.unscoped().get(deployment=prod, is_current=True)
    LocationSnapshot.objects.unscoped().filter(pk=stored.pk).update(snapshot_json="{broken")

    tick_automation(now=T0)
    tick_automation(now=T0 + timedelta(minutes=1))
    with tenant_context(acme.ctx()):
        statuses = [t.status for t in DaemonTick.objects.filter(loop="automation")]
    assert statuses == ["failure", "failure"]
    [incident] = _open_tick_failures().values()
    assert incident.key == "automation"
    assert "cannot be rebuilt" in incident.details["error"]

    LocationSnapshot.objects.unscoped().filter(pk=stored.pk).update(
        snapshot_json=stored.snapshot_json
    )
    tick_automation(now=T0 + timedelta(minutes=2))
    assert _open_tick_failures() == {}
    incident.refresh_from_db()
    assert incident.resolved_at is not None


def test_a_batch_of_ticks_records_each_like_one_tick_and_ends_on_the_latest_outcome(
    acme, prod, caplog
):
    with tenant_context(acme.ctx()):
        first = _claim(prod, "schedule", at=T0, name="hourly", location="shop")
        second = _claim(
            prod, "schedule", at=T0 + timedelta(hours=1), name="hourly", location="shop"
        )
        judged = _claim(prod, "freshness", at=T0)
        first.status, first.error = DaemonTick.Status.FAILURE, "the target is gone"
        second.status, second.run_ids = DaemonTick.Status.SUCCESS, ["r1"]
        judged.status, judged.error = DaemonTick.Status.FAILURE, "the catalog is unreadable"
        with caplog.at_level(logging.WARNING, logger="control_plane.automation.ticks"):
            ticks.finish_ticks([first, second, judged], open_failures=set())

        # The schedule's incident opened with the failed tick and closed with the next one.
        [incident] = Incident.objects.filter(kind="tick_failure")
        assert incident.key == "schedule:shop/hourly" and incident.resolved_at is not None
        assert incident.details["error"] == "the target is gone"
        stored = {t.pk: t for t in DaemonTick.objects.all()}
    assert stored[second.pk].status == "success" and stored[second.pk].run_ids == ["r1"]
    assert all(stored[t.pk].finished_at is not None for t in (first, second, judged))
    logged = [r.getMessage() for r in caplog.records]
    assert any("the target is gone" in m for m in logged)
    assert any("the catalog is unreadable" in m for m in logged)
