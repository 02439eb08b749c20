"""Schedules in the hosted daemon: due ticks queue runs once, catch up once after downtime,
and are started and stopped by Editors through the API."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection

from control_plane.audit.models import AuditEvent
from control_plane.automation.models import DaemonTick
from control_plane.automation.schedules import tick_schedules
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy import queries
from control_plane.tenancy.roles import Role
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.factories import load_location

URL = "/api/v1/orgs/acme/deployments/prod/schedules/"
# Turned on at T0; its next 02:00 UTC tick is T0 + 1 day.
T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
FIRST_TICK = datetime(2024, 3, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def shop(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="shop")


def start(acme, *, at: datetime = T0, **changes) -> None:
    """Turn the schedule on as of ``at`` (the API's clock is now; the loop's is ``at``)."""
    response = acme.client().patch(
        URL + "nightly_orders/", {"status": "running", **changes}, format="json"
    )
    assert response.status_code == 200, response.content
    from control_plane.automation.models import InstigatorState

    InstigatorState.objects.unscoped().filter(name="nightly_orders").update(last_tick_time=at)


def runs_of(acme) -> list[Run]:
    with tenant_context(acme.ctx()):
        return list(Run.objects.order_by("created_at"))


def test_a_schedule_is_stopped_until_started_and_then_queues_one_run_per_tick(acme, shop):
    listed = acme.client().get(URL).json()["results"]
    assert [(s["name"], s["status"], s["status_set_by"]) for s in listed] == [
        ("nightly_orders", "stopped", "code")
    ]
    tick_schedules(now=FIRST_TICK + timedelta(minutes=1))
    assert runs_of(acme) == []

    start(acme)
    tick_schedules(now=FIRST_TICK + timedelta(seconds=1))
    tick_schedules(now=FIRST_TICK + timedelta(seconds=2))  # the same tick: nothing new

    [run] = runs_of(acme)
    assert run.selection == "raw_orders+"
    assert run.asset_keys == ["clean_orders", "raw_orders", "revenue_report"]
    assert run.tags["assay/schedule"] == "nightly_orders"
    assert run.launched_by == "schedule nightly_orders"
    detail = acme.client().get(URL + "nightly_orders/").json()
    assert detail["status"] == "running" and detail["status_set_by"] == "user"
    assert detail["last_tick"]["status"] == "success"
    assert detail["last_tick"]["run_ids"] == [str(run.id)]
    assert detail["last_tick"]["scheduled_time"].startswith("2024-03-02T02:00:00")
    ticks = acme.client().get("/api/v1/orgs/acme/deployments/prod/ticks/?loop=schedule").json()
    assert [t["status"] for t in ticks["results"]] == ["success"]


def test_missed_ticks_after_downtime_run_once_by_default(acme, shop):
    start(acme)
    tick_schedules(now=FIRST_TICK + timedelta(days=4, minutes=5))  # five ticks were missed
    assert len(runs_of(acme)) == 1
    [tick] = DaemonTick.objects.unscoped().all()
    assert tick.scheduled_time == FIRST_TICK + timedelta(days=4)
    assert tick.details["missed_ticks"] == 4


def test_catchup_all_runs_every_missed_tick_in_order(acme, shop):
    start(acme, catchup="all")
    tick_schedules(now=FIRST_TICK + timedelta(days=2, minutes=5))
    ticks = DaemonTick.objects.unscoped().order_by("scheduled_time")
    assert [t.scheduled_time.day for t in ticks] == [2, 3, 4]
    assert len(runs_of(acme)) == 3


@pytest.mark.django_db(transaction=True)
def test_two_daemon_replicas_ticking_at_once_queue_exactly_one_run_per_tick(acme, shop):
    require_postgresql()  # replicas at once: SQLite has one writer by design
    start(acme, catchup="all")
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica(now: datetime) -> None:
        try:
            barrier.wait()
            tick_schedules(now=now)
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            connection.close()

    for day in range(6):
        now = FIRST_TICK + timedelta(days=day, seconds=1)
        threads = [threading.Thread(target=replica, args=(now,)) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    runs = runs_of(acme)
    assert len(runs) == 6
    ticks = DaemonTick.objects.unscoped().filter(loop="schedule")
    assert sorted(t.scheduled_time.day for t in ticks) == [2, 3, 4, 5, 6, 7]


def test_starting_a_schedule_needs_the_editor_role_and_is_audited(acme, shop):
    _, launcher = acme.member_with_role(Role.LAUNCHER)
    _, viewer = acme.member_with_role(Role.VIEWER)
    editor_user, editor = acme.member_with_role(Role.EDITOR)
    assert acme.client(viewer).get(URL + "nightly_orders/").status_code == 200
    denied = acme.client(launcher).patch(URL + "nightly_orders/", {"status": "running"})
    assert denied.status_code == 403
    allowed = acme.client(editor).patch(
        URL + "nightly_orders/", {"status": "running"}, format="json"
    )
    assert allowed.status_code == 200
    [event] = AuditEvent.objects.unscoped().filter(action="schedule.update")
    assert event.actor_label == editor_user.email
    assert (event.before, event.after) == (
        {"status": "stopped", "catchup": "latest"},
        {"status": "running", "catchup": "latest"},
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"status": "paused"}, "status"),
        ({"catchup": "sometimes"}, "catchup"),
        ({"cursor": "x"}, "cursor"),
        ({}, "non_field_errors"),
    ],
)
def test_bad_changes_are_400_naming_the_field_and_change_nothing(acme, shop, body, field):
    response = acme.client().patch(URL + "nightly_orders/", body, format="json")
    assert response.status_code == 400
    assert field in str(response.json())
    assert not AuditEvent.objects.unscoped().filter(action="schedule.update").exists()


def test_an_unknown_schedule_is_a_404(acme, shop):
    response = acme.client().patch(URL + "nightly_ordres/", {"status": "running"}, format="json")
    assert response.status_code == 404
    assert "nightly_ordres" in response.json()["detail"]


def test_a_partitioned_schedule_runs_the_partition_that_just_ended(acme):
    from assay import DailyPartitionsDefinition, Definitions, asset, define_asset_job
    from assay.definitions.schedules import build_schedule_from_partitioned_job
    from assay.snapshot import build_snapshot
    from control_plane.catalog.services import record_location_snapshot
    from tests.control_plane.factories import agent_ctx

    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    @asset(partitions_def=daily)
    def events() -> int:
        return 1

    job = define_asset_job("events_job", selection="events", partitions_def=daily)
    defs = Definitions(
        assets=[events], jobs=[job], schedules=[build_schedule_from_partitioned_job(job)]
    )
    snapshot = build_snapshot(defs)
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=prod,
            location_name="ingest",
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
    response = acme.client().patch(URL + "events_job_schedule/", {"status": "running"})
    assert response.status_code == 200, response.content
    from control_plane.automation.models import InstigatorState

    InstigatorState.objects.unscoped().update(last_tick_time=T0)
    tick_schedules(now=datetime(2024, 3, 2, 0, 0, 5, tzinfo=UTC))
    [run] = runs_of(acme)
    assert run.partition_key == "2024-03-01"


def test_a_schedule_stopped_for_years_runs_its_latest_tick_once_counting_a_bounded_number(
    acme, shop
):
    from control_plane.automation.schedules import MAX_COUNTED

    start(acme, at=T0 - timedelta(days=3 * 365))
    tick_schedules(now=FIRST_TICK + timedelta(minutes=1))
    assert len(runs_of(acme)) == 1
    [tick] = DaemonTick.objects.unscoped().all()
    assert tick.scheduled_time == FIRST_TICK
    assert tick.details["missed_ticks"] == min(3 * 365, MAX_COUNTED)


def test_catchup_all_runs_a_bounded_number_of_missed_ticks_per_pass_then_continues(
    acme, shop, monkeypatch
):
    from control_plane.automation import schedules

    monkeypatch.setattr(schedules, "MAX_CATCHUP_TICKS", 4)
    start(acme, catchup="all")
    now = FIRST_TICK + timedelta(days=5, minutes=1)  # six ticks are due
    tick_schedules(now=now)
    assert len(runs_of(acme)) == 4
    tick_schedules(now=now)
    assert len(runs_of(acme)) == 6
    days = sorted(t.scheduled_time.day for t in DaemonTick.objects.unscoped().all())
    assert days == [2, 3, 4, 5, 6, 7]


def test_a_tick_that_cannot_launch_fails_alone_and_alerts_while_the_others_run(acme):
    from assay import AssetSpec, Definitions, ScheduleDefinition, asset
    from assay.snapshot import build_snapshot
    from control_plane.alerts.models import Incident
    from control_plane.catalog.services import record_location_snapshot
    from tests.control_plane.factories import agent_ctx

    @asset
    def orders() -> int:
        return 1

    schedules = [
        ScheduleDefinition(name="orders_hourly", cron_schedule="0 * * * *", target="orders"),
        # An external asset is observed, never materialized: nothing to launch.
        ScheduleDefinition(name="vendor_hourly", cron_schedule="0 * * * *", target="vendor"),
    ]
    snapshot = build_snapshot(
        Definitions(assets=[orders, AssetSpec("vendor")], schedules=schedules)
    )
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=prod,
            location_name="shop",
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
    for name in ("orders_hourly", "vendor_hourly"):
        assert acme.client().patch(URL + f"{name}/", {"status": "running"}).status_code == 200
    from control_plane.automation.models import InstigatorState

    InstigatorState.objects.unscoped().update(last_tick_time=T0)
    tick_schedules(now=T0 + timedelta(hours=1, seconds=5))
    by_name = {t.name: t for t in DaemonTick.objects.unscoped().all()}
    assert by_name["orders_hourly"].status == "success"
    assert len(by_name["orders_hourly"].run_ids) == 1
    assert by_name["vendor_hourly"].status == "failure"
    assert "matches no executable asset" in by_name["vendor_hourly"].error
    assert [r.selection for r in runs_of(acme)] == ["orders"]
    with tenant_context(acme.ctx()):
        [incident] = Incident.objects.filter(kind="tick_failure")
    assert incident.key == "schedule:shop/vendor_hourly"


def test_a_schedule_its_code_switches_on_never_catches_up_on_the_time_it_was_stopped(acme):
    from assay import Definitions, ScheduleDefinition
    from tests.control_plane.factories import raw_orders

    def minutely(default_status: str) -> Definitions:
        schedule = ScheduleDefinition(
            name="minutely",
            cron_schedule="* * * * *",
            target="raw_orders",
            default_status=default_status,
        )
        return Definitions(assets=[raw_orders], schedules=[schedule])

    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(acme.ctx(), deployment=prod, name="shop", definitions=minutely("stopped"))
    for minute in range(30):  # the daemon passes while the schedule is stopped
        tick_schedules(now=T0 + timedelta(minutes=minute, seconds=10))
    assert not DaemonTick.objects.unscoped().exists()

    load_location(acme.ctx(), deployment=prod, name="shop", definitions=minutely("running"))
    tick_schedules(now=T0 + timedelta(minutes=30, seconds=10))

    [tick] = DaemonTick.objects.unscoped().all()
    assert tick.scheduled_time == T0 + timedelta(minutes=30)
    assert "missed_ticks" not in tick.details
    assert len(runs_of(acme)) == 1
