"""Asset check failures alert from the ingest path, by severity; a pass resolves them; a
batch with no check evaluation never touches the alerts tables."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from assay.definitions.asset_key import AssetKey
from assay.execution.events import Event, EventType
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import AlertDelivery, Incident
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import CodeLocation
from tests.control_plane.alerts.agent_reports import AgentReports
from tests.control_plane.factories import DEFINITIONS, agent_ctx, queue_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def run(acme, prod):
    with tenant_context(acme.ctx()):
        location = CodeLocation.objects.get(deployment=prod, name="loc")
    return queue_run(acme.ctx(), location=location, selection="clean_orders")


@pytest.fixture
def agent(acme, prod):
    return AgentReports(agent_ctx(acme.ctx()), prod)


def evaluation(
    run, check: str, *, passed: bool, severity: str = "ERROR", partition: str | None = None
) -> Event:
    """The event an agent's run worker emits for an asset check result."""
    return Event(
        EventType.ASSET_CHECK_EVALUATION,
        str(run.id),
        AssetKey(["clean_orders"]),
        "clean_orders",
        {
            "check_name": check,
            "passed": passed,
            "severity": severity,
            "blocking": False,
            "metadata": {"rows": 0},
        },
        partition=partition,
    )


def _open():
    return {
        i.key: i for i in Incident.objects.unscoped().filter(kind="check_failure", resolved_at=None)
    }


def _targets(key: str, notice: str = "opened") -> set[str]:
    return set(
        AlertDelivery.objects.unscoped()
        .filter(incident__key=key, notice=notice)
        .values_list("target", flat=True)
    )


def test_failing_checks_alert_policies_by_severity_and_a_pass_resolves(run, agent, make_policy):
    make_policy(kinds=["check_failure"], min_check_severity="ERROR", emails=["errors@acme.test"])
    make_policy(kinds=["check_failure"], min_check_severity="WARN", emails=["all@acme.test"])

    agent.events(
        run,
        [
            evaluation(run, "orders_not_empty", passed=False, severity="WARN"),
            evaluation(run, "row_count", passed=False, severity="ERROR"),
            evaluation(run, "no_nulls", passed=True),
        ],
    )
    opened = _open()
    assert set(opened) == {"clean_orders:orders_not_empty", "clean_orders:row_count"}
    warn = opened["clean_orders:orders_not_empty"]
    assert warn.details["severity"] == "WARN" and warn.details["run_id"] == str(run.id)
    assert _targets("clean_orders:orders_not_empty") == {"all@acme.test"}
    assert _targets("clean_orders:row_count") == {"all@acme.test", "errors@acme.test"}

    # Failing again changes nothing; passing resolves and tells whoever was told.
    agent.events(run, [evaluation(run, "orders_not_empty", passed=False, severity="WARN")])
    agent.events(run, [evaluation(run, "orders_not_empty", passed=True, severity="WARN")])
    assert set(_open()) == {"clean_orders:row_count"}
    assert _targets("clean_orders:orders_not_empty", "resolved") == {"all@acme.test"}
    assert AlertDelivery.objects.unscoped().count() == 4

    # Failing after it resolved is a new incident.
    agent.events(run, [evaluation(run, "orders_not_empty", passed=False, severity="WARN")])
    assert Incident.objects.unscoped().filter(key="clean_orders:orders_not_empty").count() == 2


def test_the_latest_evaluation_in_a_batch_decides(run, agent):
    agent.events(
        run,
        [
            evaluation(run, "row_count", passed=False),
            evaluation(run, "row_count", passed=True),
        ],
    )
    assert _open() == {}


def test_a_batch_without_check_evaluations_does_not_touch_alerts(acme, run, agent):
    from assay import materialize

    events: list[Event] = []
    materialize(DEFINITIONS, selection="raw_orders", run_id=str(run.id), on_event=events.append)
    with CaptureQueriesContext(connection) as queries:
        agent.events(run, [e for e in events if e.type is not EventType.ASSET_CHECK_EVALUATION])
    assert not [q["sql"] for q in queries.captured_queries if "alerts_" in q["sql"]]


def test_a_pass_of_another_partition_does_not_resolve_a_partitions_check_failure(run, agent):
    agent.events(run, [evaluation(run, "row_count", passed=False, partition="2024-01-05")])
    agent.events(run, [evaluation(run, "row_count", passed=True, partition="2024-01-06")])
    (incident,) = _open().values()
    assert incident.details["partition"] == "2024-01-05"  # that day is still broken

    # One batch: 2024-01-05 recovers, 2024-01-07 fails -> the first resolves, the second opens.
    agent.events(
        run,
        [
            evaluation(run, "row_count", passed=True, partition="2024-01-05"),
            evaluation(run, "row_count", passed=False, partition="2024-01-07"),
        ],
    )
    (incident,) = _open().values()
    assert incident.details["partition"] == "2024-01-07"
    assert Incident.objects.unscoped().filter(resolved_at__isnull=False).count() == 1

    agent.events(run, [evaluation(run, "row_count", passed=True, partition="2024-01-07")])
    assert _open() == {}


def test_a_warning_rising_to_an_error_tells_error_only_policies_once(
    run, agent, make_policy, smtp_server
):
    make_policy(kinds=["check_failure"], min_check_severity="ERROR", emails=["errors@acme.test"])
    make_policy(kinds=["check_failure"], min_check_severity="WARN", emails=["all@acme.test"])
    later = timezone.now() + timedelta(seconds=1)

    agent.events(run, [evaluation(run, "row_count", passed=False, severity="WARN")])
    assert deliver_due(now=later).sent == 1
    agent.events(run, [evaluation(run, "row_count", passed=False, severity="ERROR")])
    agent.events(run, [evaluation(run, "row_count", passed=False, severity="ERROR")])  # again
    assert deliver_due(now=later).sent == 1
    agent.events(run, [evaluation(run, "row_count", passed=True)])
    assert deliver_due(now=later).sent == 2

    summary = "Asset check failure in acme/prod: clean_orders:row_count"
    told = [
        (" ".join(m["Subject"].split()), rcpt)  # a long subject is folded
        for m, rcpt in zip(smtp_server.messages, smtp_server.recipients, strict=True)
    ]
    assert told[:2] == [
        (f"[Assay] {summary}", ["all@acme.test"]),
        (f"[Assay] {summary}", ["errors@acme.test"]),  # the ERROR-only policy, when it rose
    ]
    assert sorted(told[2:]) == [
        (f"[Assay] Resolved: {summary}", ["all@acme.test"]),
        (f"[Assay] Resolved: {summary}", ["errors@acme.test"]),
    ]
    (incident,) = Incident.objects.unscoped().all()
    assert incident.details["severity"] == "ERROR"
