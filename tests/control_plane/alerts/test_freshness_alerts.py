"""Issue 6: a freshness violation produces exactly one alert email and one webhook call,
and a resolved notice after a fresh materialization -- through the daemon's freshness and
alerts loops, a real SMTP server, a real HTTP server and the agents' ingest path."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from assay import Definitions, FreshnessPolicy, asset
from control_plane.alerts.models import AlertDelivery, Incident
from control_plane.automation.freshness import check_freshness
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import tenant_context
from control_plane.daemon import all_loops, run_pass
from tests.control_plane.alerts.agent_reports import AgentReports, run_status
from tests.control_plane.factories import agent_ctx, load_location, queue_run

pytestmark = pytest.mark.django_db(transaction=True)

INCIDENTS = "/api/v1/orgs/acme/deployments/prod/incidents/"
ASSETS = "/api/v1/orgs/acme/deployments/prod/assets/"
TICKS = "/api/v1/orgs/acme/deployments/prod/ticks/?loop=freshness"


@asset(group_name="analytics", freshness_policy=FreshnessPolicy(maximum_lag_minutes=60))
def daily_metrics() -> int:
    return 42


@asset(group_name="analytics")
def scratch_table() -> int:
    return 0


METRICS = Definitions(assets=[daily_metrics, scratch_table])


def test_freshness_violation_alerts_once_and_a_fresh_materialization_sends_resolved(
    acme, prod, make_policy, smtp_server, webhook_server
):
    ctx = acme.ctx()
    make_policy(
        kinds=["freshness_violation"],
        selection="group:analytics",
        emails=["oncall@acme.test"],
        webhooks=[{"url": webhook_server.url}],
    )
    location = load_location(ctx, deployment=prod, name="metrics", definitions=METRICS)
    agent = AgentReports(agent_ctx(ctx), prod)

    # The agent reports a run it executed three hours ago (delivered late, as after an outage).
    first = queue_run(ctx, location=location, selection="daily_metrics")
    agent.execute(first, METRICS, ago=timedelta(hours=3))
    assert run_status(ctx, first) == "SUCCESS"

    loops = {loop.name: loop for loop in all_loops()}
    assert run_pass(loops["freshness"]) == 1  # one deployment judged
    assert run_pass(loops["alerts"]) == 2  # one email, one webhook call

    assert len(smtp_server.messages) == 1 and len(webhook_server.requests) == 1
    email = smtp_server.messages[0]
    assert email["Subject"] == "[Assay] Freshness violation in acme/prod: daily_metrics"
    assert smtp_server.recipients == [["oncall@acme.test"]]
    hook = webhook_server.requests[0]["json"]
    assert hook["notice"] == "opened"
    assert hook["incident"]["kind"] == "freshness_violation"
    details = hook["incident"]["details"]
    assert details["asset"] == "daily_metrics" and details["maximum_lag_minutes"] == 60
    assert 119 <= details["overdue_minutes"] <= 121  # three hours old, one allowed
    assert details["last_materialization"] is not None
    assert "overdue_minutes" in email.get_payload()

    # Later passes see the same violation: nothing new is opened or sent.
    for minutes in (1, 2):
        assert check_freshness(now=timezone.now() + timedelta(minutes=minutes)) == 1
    assert run_pass(loops["alerts"]) == 0
    assert len(smtp_server.messages) == 1 and len(webhook_server.requests) == 1

    client = acme.client()
    (open_incident,) = client.get(INCIDENTS + "?status=open").json()["results"]
    assert (open_incident["kind"], open_incident["key"]) == ("freshness_violation", "daily_metrics")
    assets = {a["key"]: a for a in client.get(ASSETS).json()["results"]}
    assert assets["daily_metrics"]["freshness"]["status"] == "stale"
    assert assets["daily_metrics"]["freshness"]["overdue_minutes"] >= 119
    assert assets["scratch_table"]["freshness"] is None  # no policy, never judged

    # A fresh materialization arrives through ingest; the next freshness pass resolves.
    second = queue_run(ctx, location=location, selection="daily_metrics")
    agent.execute(second, METRICS)
    assert client.get(ASSETS + "daily_metrics/").json()["freshness"]["status"] == "fresh"
    assert check_freshness(now=timezone.now() + timedelta(minutes=3)) == 1
    assert run_pass(loops["alerts"]) == 2

    assert len(smtp_server.messages) == 2 and len(webhook_server.requests) == 2
    assert smtp_server.messages[1]["Subject"] == (
        "[Assay] Resolved: Freshness violation in acme/prod: daily_metrics"
    )
    resolved = webhook_server.requests[1]["json"]
    assert resolved["notice"] == "resolved"
    assert resolved["incident"]["id"] == hook["incident"]["id"]
    assert resolved["incident"]["resolved_at"] is not None

    # Still fresh on the next pass: nothing more is sent.
    assert check_freshness(now=timezone.now() + timedelta(minutes=4)) == 1
    assert run_pass(loops["alerts"]) == 0
    assert len(smtp_server.messages) == 2 and len(webhook_server.requests) == 2
    with tenant_context(ctx):
        assert Incident.objects.count() == 1
        assert {(d.notice, d.status) for d in AlertDelivery.objects.all()} == {
            ("opened", "sent"),
            ("resolved", "sent"),
        }
    ticks = client.get(TICKS).json()["results"]
    assert [t["status"] for t in ticks] == ["success"] * 5
    assert sorted(t["details"]["opened"] for t in ticks) == [0, 0, 0, 0, 1]
    assert sorted(t["details"]["resolved"] for t in ticks) == [0, 0, 0, 0, 1]


def test_a_location_failing_to_load_keeps_its_freshness_incidents_open(acme, prod, make_policy):
    """Its assets vanish from the judged set while it is in error, but they were not removed:
    no "resolved" notice goes out. Redeploying it without the policy then resolves."""
    ctx = acme.ctx()
    make_policy(kinds=["freshness_violation"], emails=["oncall@acme.test"])
    location = load_location(ctx, deployment=prod, name="metrics", definitions=METRICS)
    agent = AgentReports(agent_ctx(ctx), prod)
    run = queue_run(ctx, location=location, selection="daily_metrics")
    agent.execute(run, METRICS, ago=timedelta(hours=3))
    now = timezone.now()
    assert check_freshness(now=now) == 1
    (incident,) = Incident.objects.unscoped().filter(kind="freshness_violation")

    with tenant_context(ctx):
        record_location_snapshot(
            ctx=agent_ctx(ctx),
            deployment=prod,
            location_name="metrics",
            ok=False,
            error="ModuleNotFoundError: No module named 'metrics'",
        )
    assert check_freshness(now=now + timedelta(minutes=1)) == 1
    incident.refresh_from_db()
    assert incident.resolved_at is None
    assert not AlertDelivery.objects.unscoped().filter(notice="resolved").exists()

    without_policy = Definitions(assets=[scratch_table])
    load_location(ctx, deployment=prod, name="metrics", definitions=without_policy)
    assert check_freshness(now=now + timedelta(minutes=2)) == 1
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert AlertDelivery.objects.unscoped().filter(notice="resolved").count() == 1
