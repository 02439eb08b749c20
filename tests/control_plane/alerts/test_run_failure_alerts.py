"""Run failures alert: once per code location and selection until a run of it succeeds,
only when no retry is queued, and also when monitoring fails a run whose agent was lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import AlertDelivery, Incident
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run, RunStatus
from control_plane.runs.monitoring import AGENT_LOST, monitor_runs
from control_plane.tenancy.models import CodeLocation
from tests.control_plane.alerts.agent_reports import AgentReports
from tests.control_plane.factories import agent_ctx, queue_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop(acme, prod):
    with tenant_context(acme.ctx()):
        return CodeLocation.objects.get(deployment=prod, name="loc")


@pytest.fixture
def agent(acme, prod):
    return AgentReports(agent_ctx(acme.ctx()), prod)


def _incidents():
    return list(Incident.objects.unscoped().filter(kind="run_failure").order_by("id"))


def _fail(agent, run, reason="step raw_orders failed: ValueError: bad input"):
    agent.status(run, "STARTED")
    agent.status(run, "FAILED", reason=reason)


def test_failed_runs_of_one_selection_are_one_incident_until_a_run_of_it_succeeds(
    acme, shop, agent, make_policy, smtp_server
):
    make_policy(kinds=["run_failure"], emails=["oncall@acme.test"])
    first = queue_run(acme.ctx(), location=shop, selection="raw_orders")
    _fail(agent, first)
    _fail(agent, queue_run(acme.ctx(), location=shop, selection="raw_orders"), "again")
    _fail(agent, queue_run(acme.ctx(), location=shop, selection="clean_orders"))

    raw, clean = _incidents()
    assert (raw.key, clean.key) == ("loc:raw_orders", "loc:clean_orders")
    assert raw.details["run_id"] == str(first.id)  # the first failure is what people are told
    assert raw.details["reason"] == "step raw_orders failed: ValueError: bad input"
    assert raw.details["asset_keys"] == ["raw_orders"] and raw.details["attempt"] == 1

    success = queue_run(acme.ctx(), location=shop, selection="raw_orders")
    agent.status(success, "STARTED")
    agent.status(success, "SUCCEEDED")
    raw, clean = _incidents()
    assert raw.resolved_at is not None and clean.resolved_at is None

    assert deliver_due(now=timezone.now() + timedelta(seconds=1)).sent == 3
    assert [m["Subject"] for m in smtp_server.messages] == [
        "[Assay] Run failure in acme/prod: loc:raw_orders",
        "[Assay] Run failure in acme/prod: loc:clean_orders",
        "[Assay] Resolved: Run failure in acme/prod: loc:raw_orders",
    ]


def test_no_alert_while_a_retry_is_queued_and_one_when_the_last_attempt_fails(
    acme, shop, agent, make_policy
):
    make_policy(kinds=["run_failure"], emails=["oncall@acme.test"])
    run = queue_run(acme.ctx(), location=shop, selection="raw_orders", tags={"max_retries": "1"})
    _fail(agent, run)
    assert _incidents() == []
    with tenant_context(acme.ctx()):
        retry = Run.objects.get(parent_run=run)
    assert retry.status == RunStatus.QUEUED

    _fail(agent, retry, "failed again")
    (incident,) = _incidents()
    assert incident.details["run_id"] == str(retry.id)
    assert (incident.details["attempt"], incident.details["reason"]) == (2, "failed again")
    assert AlertDelivery.objects.unscoped().count() == 1


def test_a_run_failed_by_monitoring_because_its_agent_was_lost_alerts(
    acme, prod, shop, make_policy, settings
):
    settings.AGENT_HEARTBEAT_TIMEOUT_SECONDS = 60
    make_policy(kinds=["run_failure"], emails=["oncall@acme.test"])
    run = queue_run(acme.ctx(), location=shop, selection="raw_orders")
    with tenant_context(acme.ctx()):
        session = AgentSession.objects.create(
            organization=acme.organization,
            agent_id="agent-1",
            deployment_ids=[prod.pk],
            code_locations=["loc"],
            last_heartbeat_at=timezone.now() - timedelta(minutes=5),
        )
        Run.objects.filter(pk=run.pk).update(status=RunStatus.STARTED, agent_session=session)

    assert monitor_runs().runs_failed == 1
    (incident,) = _incidents()
    assert incident.details["reason"] == AGENT_LOST
    assert incident.details["run_id"] == str(run.id)


def test_run_tags_decide_which_policies_hear_of_a_failure(acme, shop, agent, make_policy):
    make_policy(kinds=["run_failure"], tags={"team": "finance"}, emails=["finance@acme.test"])
    _fail(agent, queue_run(acme.ctx(), location=shop, selection="raw_orders"))
    _fail(
        agent,
        queue_run(acme.ctx(), location=shop, selection="clean_orders", tags={"team": "finance"}),
    )
    assert len(_incidents()) == 2  # both are incidents; only the finance run reaches the policy
    (delivery,) = AlertDelivery.objects.unscoped().select_related("incident")
    assert delivery.incident.key == "loc:clean_orders"


def test_a_partitioned_failure_resolves_only_when_its_partition_succeeds(acme, shop, agent):
    def run(partition, status, reason=""):
        queued = queue_run(
            acme.ctx(), location=shop, selection="daily_orders", partition_key=partition
        )
        agent.status(queued, "STARTED")
        agent.status(queued, status, reason=reason)

    run("2024-01-05", "FAILED", "the source file for 2024-01-05 is missing")
    run("2024-01-06", "FAILED", "suppressed: the incident is open")
    run("2024-01-07", "SUCCEEDED")  # another day of the backfill: 2024-01-05 is still broken
    (incident,) = _incidents()
    assert incident.resolved_at is None and incident.details["partition"] == "2024-01-05"

    run("2024-01-05", "SUCCEEDED")  # retried
    (incident,) = _incidents()
    assert incident.resolved_at is not None


def test_a_successful_run_covering_a_failed_runs_assets_resolves_its_failure(
    acme, shop, agent, make_policy, smtp_server
):
    """Automation re-runs `raw_orders` inside `raw_orders, clean_orders`: that success fixes
    the failure of `raw_orders` alone, so it resolves (and the next failure alerts again)."""
    make_policy(kinds=["run_failure"], emails=["oncall@acme.test"])

    def succeed(selection: str) -> None:
        run = queue_run(acme.ctx(), location=shop, selection=selection)
        agent.status(run, "STARTED")
        agent.status(run, "SUCCEEDED")

    _fail(agent, queue_run(acme.ctx(), location=shop, selection="raw_orders"))
    _fail(agent, queue_run(acme.ctx(), location=shop, selection="clean_orders, revenue_report"))
    succeed("clean_orders")  # redoes only part of the second failure: nothing is fixed
    assert [i.resolved_at is None for i in _incidents()] == [True, True]

    succeed("raw_orders, clean_orders")
    raw, wide = _incidents()
    assert raw.resolved_at is not None and wide.resolved_at is None
    succeed("revenue_report+, clean_orders")
    assert all(i.resolved_at is not None for i in _incidents())

    _fail(agent, queue_run(acme.ctx(), location=shop, selection="raw_orders"), "again")
    assert deliver_due(now=timezone.now() + timedelta(seconds=1)).sent == 5
    assert [" ".join(m["Subject"].split()) for m in smtp_server.messages] == [
        "[Assay] Run failure in acme/prod: loc:raw_orders",
        "[Assay] Run failure in acme/prod: loc:clean_orders, revenue_report",
        "[Assay] Resolved: Run failure in acme/prod: loc:raw_orders",
        "[Assay] Resolved: Run failure in acme/prod: loc:clean_orders, revenue_report",
        "[Assay] Run failure in acme/prod: loc:raw_orders",
    ]
