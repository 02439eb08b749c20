"""Incidents become notices delivered to a real SMTP server and a real HTTP server."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connections
from django.utils import timezone

from control_plane.alerts import services
from control_plane.alerts.delivery import deliver_due
from control_plane.alerts.models import AlertDelivery, AlertDeliveryAttempt, Incident

pytestmark = pytest.mark.django_db

FRESHNESS = {"kind": "freshness_violation", "key": "freshness:clean_orders"}
DETAILS = {"asset": "clean_orders", "overdue_minutes": 95}


def _later(seconds: float = 1):
    return timezone.now() + timedelta(seconds=seconds)


def _deliveries():
    return AlertDelivery.objects.unscoped().order_by("id")


def test_freshness_violation_opened_twice_sends_one_email_and_one_webhook_call(
    prod, make_policy, smtp_server, webhook_server
):
    make_policy(emails=["oncall@acme.test"], webhooks=[{"url": webhook_server.url}])
    first = services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    second = services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert first.pk == second.pk

    report = deliver_due(now=_later())
    assert (report.sent, report.retrying, report.failed) == (2, 0, 0)
    assert deliver_due(now=_later(3600)).attempted == 0  # nothing left, nothing resent

    assert len(smtp_server.messages) == 1
    email = smtp_server.messages[0]
    assert smtp_server.recipients == [["oncall@acme.test"]]
    assert email["Subject"] == "[Assay] Freshness violation in acme/prod: freshness:clean_orders"
    assert "overdue_minutes: 95" in email.get_payload()
    assert len(webhook_server.requests) == 1
    body = webhook_server.requests[0]["json"]
    assert body["notice"] == "opened"
    assert body["incident"]["kind"] == "freshness_violation"
    assert body["incident"]["details"] == DETAILS
    assert (body["organization"], body["deployment"]) == ("acme", "prod")
    assert {d.status for d in _deliveries()} == {"sent"}


def test_resolve_sends_one_resolved_notice_per_channel_and_a_new_violation_reopens(
    prod, make_policy, smtp_server, webhook_server
):
    make_policy(emails=["oncall@acme.test"], webhooks=[{"url": webhook_server.url}])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    deliver_due(now=_later())

    incident = services.resolve_incident(deployment=prod, **FRESHNESS)
    assert incident is not None and incident.resolved_at is not None
    assert services.resolve_incident(deployment=prod, **FRESHNESS) is None  # already resolved
    assert deliver_due(now=_later()).sent == 2

    assert len(smtp_server.messages) == 2
    assert smtp_server.messages[1]["Subject"].startswith("[Assay] Resolved: Freshness violation")
    assert [r["json"]["notice"] for r in webhook_server.requests] == ["opened", "resolved"]
    assert webhook_server.requests[1]["json"]["incident"]["resolved_at"] is not None

    reopened = services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert reopened.pk != incident.pk
    assert Incident.objects.unscoped().filter(resolved_at__isnull=True).count() == 1


def test_failing_webhook_is_retried_with_backoff_and_delivered_once(
    prod, make_policy, webhook_server
):
    make_policy(webhooks=[{"url": webhook_server.url}])
    webhook_server.answer(500, 500)
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    t0 = _later()

    assert deliver_due(now=t0).retrying == 1
    delivery = _deliveries().get()
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)
    assert "HTTP 500" in delivery.last_error
    assert deliver_due(now=t0 + timedelta(seconds=29)).attempted == 0  # not due yet

    assert deliver_due(now=t0 + timedelta(seconds=30)).retrying == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30 + 60)  # doubled

    assert deliver_due(now=t0 + timedelta(seconds=90)).sent == 1
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_error) == ("sent", 3, "")
    assert len(webhook_server.requests) == 3
    tries = AlertDeliveryAttempt.objects.unscoped().filter(delivery=delivery).order_by("number")
    assert [(t.number, t.ok) for t in tries] == [(1, False), (2, False), (3, True)]
    assert deliver_due(now=t0 + timedelta(days=1)).attempted == 0


def test_webhook_failing_every_attempt_ends_failed_with_the_error_recorded(
    prod, make_policy, webhook_server, caplog
):
    make_policy(webhooks=[{"url": webhook_server.url}])
    webhook_server.answer(503, 503, 503, 503, 503)
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    now = _later()
    for _ in range(4):  # ALERT_MAX_ATTEMPTS
        deliver_due(now=now)
        now += timedelta(hours=2)
    delivery = _deliveries().get()
    assert (delivery.status, delivery.attempts) == ("failed", 4)
    assert "HTTP 503" in delivery.last_error
    assert deliver_due(now=now + timedelta(days=1)).attempted == 0
    assert len(webhook_server.requests) == 4
    logged = [r for r in caplog.records if "FAILED" in r.getMessage()]
    assert logged and logged[0].levelname == "ERROR"
    # The log names the webhook without its secret path or query.
    assert "secret-token" not in caplog.text and "k=v" not in caplog.text
    assert f"{webhook_server.url.split('/hooks')[0]}/***" in caplog.text


def test_webhook_answering_404_fails_at_once_without_retrying(prod, make_policy, webhook_server):
    make_policy(webhooks=[{"url": webhook_server.url}])
    webhook_server.answer(404)
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert deliver_due(now=_later()).failed == 1
    delivery = _deliveries().get()
    assert (delivery.status, delivery.attempts) == ("failed", 1)
    assert delivery.last_error == "webhook answered HTTP 404 boom"


def test_unreachable_smtp_server_is_retried_and_recorded(prod, make_policy, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # discard port: refused
    settings.ALERT_RETRY_BASE_SECONDS = 30
    make_policy(emails=["oncall@acme.test"])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert deliver_due(now=_later()).retrying == 1
    delivery = _deliveries().get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert delivery.last_error.startswith("email: ConnectionRefusedError")


def test_slack_format_posts_a_text_payload(prod, make_policy, webhook_server):
    make_policy(webhooks=[{"url": webhook_server.url, "format": "slack"}])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    deliver_due(now=_later())
    services.resolve_incident(deployment=prod, **FRESHNESS)
    deliver_due(now=_later())
    opened, resolved = (r["json"] for r in webhook_server.requests)
    assert set(opened) == {"text"} and set(resolved) == {"text"}
    assert opened["text"].startswith(
        ":rotating_light: *Freshness violation in acme/prod: freshness:clean_orders*"
    )
    assert "• overdue_minutes: 95" in opened["text"]
    assert resolved["text"].startswith(":white_check_mark: *Resolved: Freshness violation")
    assert webhook_server.requests[0]["content_type"] == "application/json"


def test_webhook_to_a_private_address_is_refused_in_production(
    prod, make_policy, webhook_server, settings
):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    make_policy(webhooks=[{"url": webhook_server.url}])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert deliver_due(now=_later()).failed == 1
    assert webhook_server.requests == []
    assert _deliveries().get().last_error == "webhook: the target could not be reached"


def test_overlapping_policies_send_one_notice_per_address(prod, make_policy, smtp_server):
    make_policy(emails=["oncall@acme.test"])
    make_policy(emails=["oncall@acme.test", "lead@acme.test"])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    assert deliver_due(now=_later()).sent == 2
    assert sorted(r[0] for r in smtp_server.recipients) == ["lead@acme.test", "oncall@acme.test"]


def test_deliver_alerts_command_sends_pending_notices_once(prod, make_policy, webhook_server):
    make_policy(webhooks=[{"url": webhook_server.url}])
    services.open_incident(deployment=prod, details=DETAILS, **FRESHNESS)
    call_command("deliver_alerts", "--once")
    call_command("deliver_alerts", "--once")
    assert len(webhook_server.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_delivery_replicas_send_each_notice_exactly_once(prod, make_policy, webhook_server):
    make_policy(webhooks=[{"url": webhook_server.url}])
    for n in range(12):
        services.open_incident(
            deployment=prod, kind="run_failure", key=f"run:{n}", details={"n": n}
        )
    make_policy(kinds=["run_failure"], webhooks=[{"url": webhook_server.url}])
    for n in range(12, 24):
        services.open_incident(
            deployment=prod, kind="run_failure", key=f"run:{n}", details={"n": n}
        )
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []
    now = _later()

    def replica() -> None:
        try:
            barrier.wait()
            while deliver_due(now=now, limit=3).attempted:
                pass
        except BaseException as exc:  # reported below; the thread must not die silently
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    sent = sorted(r["json"]["incident"]["details"]["n"] for r in webhook_server.requests)
    assert sent == list(range(12, 24))  # the first twelve matched no policy when opened
    assert set(_deliveries().values_list("status", flat=True)) == {"sent"}


def test_details_may_carry_uuids_and_datetimes(prod, make_policy, webhook_server):
    make_policy(kinds=["run_failure"], webhooks=[{"url": webhook_server.url}])
    run_id = uuid.uuid4()
    failed_at = timezone.now()
    services.open_incident(
        deployment=prod,
        kind="run_failure",
        key=f"run:{run_id}",
        details={"run_id": run_id, "failed_at": failed_at},
    )
    deliver_due(now=_later())
    details = webhook_server.requests[0]["json"]["incident"]["details"]
    assert details["run_id"] == str(run_id)
    assert details["failed_at"].startswith(failed_at.isoformat()[:19])
