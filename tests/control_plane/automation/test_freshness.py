"""The freshness loop: each deployment judged once a minute across replicas, partitioned
assets by their latest partition, failed re-runs not counted as older data, and incidents
kept in step with the verdicts (and with the policies that exist)."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.utils import timezone

from assay import DailyPartitionsDefinition, Definitions, FreshnessPolicy, asset
from control_plane.alerts.models import AlertDelivery, Incident
from control_plane.alerts.services import create_alert_policy
from control_plane.automation.freshness import check_freshness
from control_plane.automation.models import DaemonTick
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.daemon import all_loops
from control_plane.tenancy import queries
from tests.control_plane.alerts.agent_reports import AgentReports
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.factories import agent_ctx, load_location, queue_run

ASSETS = "/api/v1/orgs/acme/deployments/prod/assets/"
HOUR_POLICY = FreshnessPolicy(maximum_lag_minutes=60)


@asset(freshness_policy=HOUR_POLICY)
def daily_metrics() -> int:
    return 1


@asset(name="daily_metrics")
def broken_daily_metrics() -> int:
    raise ValueError("the warehouse is down")


@asset(
    partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"),
    freshness_policy=HOUR_POLICY,
)
def daily_rates() -> int:
    return 1


@asset(name="daily_metrics")
def daily_metrics_without_policy() -> int:
    return 1


METRICS = Definitions(assets=[daily_metrics])
BROKEN = Definitions(assets=[broken_daily_metrics])
RATES = Definitions(assets=[daily_rates])
NO_POLICY = Definitions(assets=[daily_metrics_without_policy])


@pytest.fixture
def prod(acme):
    with tenant_context(acme.ctx()):
        return queries.get_deployment(name="prod")


@pytest.fixture
def agent(acme, prod):
    return AgentReports(agent_ctx(acme.ctx()), prod)


def _load(acme, prod, definitions):
    return load_location(acme.ctx(), deployment=prod, name="metrics", definitions=definitions)


def _open_incidents():
    return list(
        Incident.objects.unscoped().filter(kind="freshness_violation", resolved_at__isnull=True)
    )


def _ticks():
    return list(DaemonTick.objects.unscoped().filter(loop="freshness").order_by("id"))


def _freshness(acme, key):
    return acme.client().get(ASSETS + key + "/").json()["freshness"]


@pytest.mark.django_db(transaction=True)
def test_two_replicas_judge_a_minute_once_and_alert_once(acme, prod, agent):
    require_postgresql()  # replicas at once: SQLite has one writer by design
    location = _load(acme, prod, METRICS)
    with tenant_context(acme.ctx()):
        create_alert_policy(
            ctx=acme.ctx(),
            deployment=prod,
            name="oncall",
            kinds=["freshness_violation"],
            emails=["oncall@acme.test"],
        )
    agent.execute(
        queue_run(acme.ctx(), location=location, selection="daily_metrics"),
        METRICS,
        ago=timedelta(hours=2),
    )
    now = timezone.now()
    barrier = threading.Barrier(2)
    judged: list[int] = []

    def replica():
        try:
            barrier.wait()
            judged.append(check_freshness(now=now))
        finally:
            connection.close()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(judged) == [0, 1]
    (tick,) = _ticks()
    assert tick.status == "success" and tick.details["stale_assets"] == ["daily_metrics"]
    assert len(_open_incidents()) == 1
    assert AlertDelivery.objects.unscoped().count() == 1


@pytest.mark.django_db
def test_a_time_partitioned_asset_is_judged_by_its_latest_partition(acme, prod, agent):
    location = _load(acme, prod, RATES)
    # The clock the loop is given: 12:01 UTC. The agent's reports are dated on that clock.
    real = timezone.now()
    noon = real.replace(hour=12, minute=0, second=0, microsecond=0)
    if noon > real:
        noon -= timedelta(days=1)
    offset = real - noon
    now = noon + timedelta(minutes=1)
    latest = (noon - timedelta(days=1)).date().isoformat()  # the day that ended at midnight
    older = (noon - timedelta(days=3)).date().isoformat()

    def materialize(partition):
        run = queue_run(
            acme.ctx(), location=location, selection="daily_rates", partition_key=partition
        )
        agent.execute(run, RATES, ago=offset)

    materialize(older)
    assert check_freshness(now=now) == 1
    (incident,) = _open_incidents()
    # Yesterday's data became due at midnight; a one-hour lag makes it 11 h 01 min overdue.
    assert incident.details["partition"] == latest
    assert incident.details["overdue_minutes"] == pytest.approx(661, abs=0.1)
    assert incident.details["last_materialization"] is None

    materialize(latest)
    assert check_freshness(now=now + timedelta(minutes=1)) == 1
    assert _open_incidents() == []
    assert _ticks()[-1].details["resolved"] == 1


@pytest.mark.django_db
def test_a_failed_rerun_does_not_make_the_last_materialization_older(acme, prod, agent):
    location = _load(acme, prod, METRICS)
    agent.execute(
        queue_run(acme.ctx(), location=location, selection="daily_metrics"),
        METRICS,
        ago=timedelta(minutes=10),
    )
    result = agent.execute(
        queue_run(acme.ctx(), location=location, selection="daily_metrics"), BROKEN
    )
    assert not result.success

    freshness = _freshness(acme, "daily_metrics")
    assert freshness["status"] == "fresh" and freshness["overdue_minutes"] == 0
    last = datetime.fromisoformat(freshness["last_materialization_time"])
    assert timedelta(minutes=9) < timezone.now() - last < timedelta(minutes=11)
    assert freshness["maximum_lag_minutes"] == 60 and freshness["stale_at"] is not None


@pytest.mark.django_db
def test_never_materialized_is_unknown_and_opens_nothing(acme, prod):
    _load(acme, prod, METRICS)
    assert _freshness(acme, "daily_metrics") == {
        "status": "unknown",
        "overdue_minutes": None,
        "stale_at": None,
        "last_materialization_time": None,
        "partition": None,
        "maximum_lag_minutes": 60,
        "cron_schedule": None,
    }
    assert check_freshness() == 1
    assert _open_incidents() == []
    assert _ticks()[0].details == {
        "assets": 1,
        "fresh": 0,
        "stale": 0,
        "unknown": 1,
        "stale_assets": [],
        "opened": 0,
        "resolved": 0,
    }


@pytest.mark.django_db
def test_removing_the_policy_resolves_the_open_incident(acme, prod, agent):
    location = _load(acme, prod, METRICS)
    agent.execute(
        queue_run(acme.ctx(), location=location, selection="daily_metrics"),
        METRICS,
        ago=timedelta(hours=2),
    )
    now = timezone.now()
    check_freshness(now=now)
    assert len(_open_incidents()) == 1

    _load(acme, prod, NO_POLICY)  # the code location is redeployed without the policy
    assert _freshness(acme, "daily_metrics") is None
    assert check_freshness(now=now + timedelta(minutes=1)) == 1
    assert _open_incidents() == []


@pytest.mark.django_db
def test_deployments_without_freshness_policies_are_not_ticked(acme, prod):
    load_location(acme.ctx(), deployment=prod, name="shop")  # assets with no policy
    assert check_freshness() == 0
    assert _ticks() == []


@pytest.mark.django_db
def test_definitions_that_cannot_be_rebuilt_fail_the_minutes_tick_with_the_error(acme, prod):
    _load(acme, prod, METRICS)
    LocationSnapshot.objects.unscoped().filter(deployment=prod).update(snapshot_json="{broken")
    now = timezone.now()
    assert check_freshness(now=now) == 1
    assert check_freshness(now=now) == 0  # the minute was claimed: one failed tick, not more
    [tick] = _ticks()
    assert tick.status == "failure"
    assert tick.error.startswith("the deployment's definitions cannot be rebuilt")


def test_the_daemon_runs_the_freshness_loop_at_its_interval(settings):
    settings.DAEMON_FRESHNESS_SECONDS = 300
    (loop,) = [loop for loop in all_loops() if loop.name == "freshness"]
    assert loop.interval == 300 and loop.run is check_freshness
