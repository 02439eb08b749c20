"""Old daemon ticks and automation evaluations are pruned; the latest of each stays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from control_plane.automation.models import AutomationEvaluation, DaemonTick
from control_plane.automation.retention import prune
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries

NOW = datetime(2024, 6, 1, tzinfo=UTC)
OLD = NOW - timedelta(days=45)


def test_old_ticks_and_evaluations_go_but_the_latest_of_each_stays(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")

        def tick(loop: str, name: str, at: datetime, status: str = "success") -> DaemonTick:
            return DaemonTick.objects.create(
                organization=acme.organization,
                deployment=prod,
                loop=loop,
                name=name,
                location_name="shop",
                tick_key=at.isoformat(),
                started_at=at,
                finished_at=at,
                status=status,
            )

        def evaluation(tick_row: DaemonTick, asset_key: str) -> AutomationEvaluation:
            return AutomationEvaluation.objects.create(
                organization=acme.organization,
                deployment=prod,
                tick=tick_row,
                asset_key=asset_key,
                evaluation_time=tick_row.started_at,
            )

        old_sensor = [tick("sensor", "inbox", OLD + timedelta(minutes=i)) for i in range(3)]
        stale_sensor = tick("sensor", "quiet", OLD)  # its only tick: the latest, kept
        recent_sensor = tick("sensor", "inbox", NOW - timedelta(days=1))
        still_open = tick("sensor", "slow", OLD, status="started")
        auto_old = tick("automation", "", OLD)
        auto_older = tick("automation", "", OLD - timedelta(days=1))
        auto_new = tick("automation", "", NOW - timedelta(hours=1))
        churn_old = evaluation(auto_older, "churn")  # superseded: goes, with its tick
        metrics_latest = evaluation(auto_old, "metrics")  # old but the latest for its asset
        churn_latest = evaluation(auto_new, "churn")

    pruned = prune(now=NOW, days=30)

    with tenant_context(acme.ctx()):
        ticks_left = set(DaemonTick.objects.values_list("pk", flat=True))
        evaluations_left = set(AutomationEvaluation.objects.values_list("pk", flat=True))
    assert ticks_left == {
        stale_sensor.pk,
        recent_sensor.pk,
        still_open.pk,
        auto_old.pk,  # an evaluation still refers to it
        auto_new.pk,
    }
    assert {t.pk for t in old_sensor} & ticks_left == set()
    assert evaluations_left == {metrics_latest.pk, churn_latest.pk}
    assert churn_old.pk not in evaluations_left
    assert (pruned.ticks, pruned.evaluations) == (4, 1)


def test_nothing_recent_is_touched(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
        for i in range(5):
            DaemonTick.objects.create(
                organization=acme.organization,
                deployment=prod,
                loop="freshness",
                tick_key=str(i),
                started_at=NOW - timedelta(days=i),
                status="success",
            )
    assert prune(now=NOW, days=30).ticks == 0
    with tenant_context(acme.ctx()):
        assert DaemonTick.objects.count() == 5
