"""Sending queued alert notices: email and webhooks, with retries, backoff and a record of
every attempt. ``deliver_due`` is what the daemon's alerts loop (and ``deliver_alerts``) runs.

Several replicas may run it at once: due rows are claimed under ``FOR UPDATE SKIP LOCKED``
and leased (``next_attempt_at`` moves past the send) before any network I/O, so no row lock
is held while talking to an SMTP server or a webhook, and no notice is sent twice.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import connection, transaction
from django.utils import timezone

from control_plane.alerts.masking import mask_url
from control_plane.alerts.models import AlertDelivery, AlertDeliveryAttempt, IncidentKind

logger = logging.getLogger(__name__)

# A claimed batch is leased to its replica for at least this long, plus the worst case of
# sending each delivery in it, so a slow batch is not claimed a second time by another.
MIN_CLAIM_LEASE = timedelta(minutes=5)


def claim_lease(count: int) -> timedelta:
    """How long a batch of ``count`` deliveries stays with the replica that claimed it."""
    per_delivery = 2 * max(settings.ALERT_WEBHOOK_TIMEOUT_SECONDS, settings.EMAIL_TIMEOUT or 60)
    return MIN_CLAIM_LEASE + timedelta(seconds=count * per_delivery)


@dataclass
class DeliveryReport:
    """What one ``deliver_due`` call did (the command prints it; tests assert on it)."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def attempted(self) -> int:
        return self.sent + self.retrying + self.failed


class DeliveryError(Exception):
    """A send failed; ``permanent`` ones are not retried (a 404 webhook, a refused address)."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


def retry_delay(attempts: int) -> timedelta:
    """Exponential backoff after the ``attempts``-th failure: base, 2x base, 4x base... capped."""
    base = settings.ALERT_RETRY_BASE_SECONDS
    return timedelta(seconds=min(base * 2 ** (attempts - 1), settings.ALERT_RETRY_MAX_SECONDS))


def deliver_due(*, now: datetime | None = None, limit: int = 100) -> DeliveryReport:
    """Send up to ``limit`` pending deliveries whose ``next_attempt_at`` is due at ``now``."""
    now = now or timezone.now()
    report = DeliveryReport()
    for delivery in _claim(now=now, limit=limit):
        try:
            _send(delivery)
        except DeliveryError as error:
            _record_failure(
                delivery, now=now, error=str(error), permanent=error.permanent, report=report
            )
        except Exception as error:  # a bug in rendering must not stop the other deliveries
            logger.exception("alert delivery %s: unexpected error", delivery.pk)
            _record_failure(
                delivery,
                now=now,
                error=f"{type(error).__name__}: {error}",
                permanent=False,
                report=report,
            )
        else:
            _record_success(delivery, now=now)
            report.sent += 1
    return report


def _claim(*, now: datetime, limit: int) -> list[AlertDelivery]:
    """Lease due deliveries to this process. A deliberate cross-tenant read: the daemon
    serves every organization; each row is then handled on its own."""
    with transaction.atomic():
        due = (
            AlertDelivery.objects.unscoped()
            .filter(status=AlertDelivery.Status.PENDING, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        AlertDelivery.objects.unscoped().filter(id__in=ids).update(
            next_attempt_at=now + claim_lease(len(ids))
        )
    return list(
        AlertDelivery.objects.unscoped()
        .filter(id__in=ids)
        .select_related("incident__deployment__organization")
        .order_by("id")
    )


def _record_success(delivery: AlertDelivery, *, now: datetime) -> None:
    with transaction.atomic():
        number = delivery.attempts + 1
        AlertDeliveryAttempt.objects.unscoped().create(
            organization_id=delivery.organization_id,
            delivery=delivery,
            number=number,
            attempted_at=now,
            ok=True,
        )
        AlertDelivery.objects.unscoped().filter(pk=delivery.pk).update(
            status=AlertDelivery.Status.SENT, attempts=number, sent_at=now, last_error=""
        )
    logger.info(
        "alert delivery %s sent: %s notice of incident %s by %s to %s",
        delivery.pk,
        delivery.notice,
        delivery.incident_id,
        delivery.channel,
        _shown_target(delivery),
    )


def _record_failure(
    delivery: AlertDelivery, *, now: datetime, error: str, permanent: bool, report: DeliveryReport
) -> None:
    number = delivery.attempts + 1
    error = error.replace(delivery.target, _shown_target(delivery))[:2000]
    gives_up = permanent or number >= settings.ALERT_MAX_ATTEMPTS
    with transaction.atomic():
        AlertDeliveryAttempt.objects.unscoped().create(
            organization_id=delivery.organization_id,
            delivery=delivery,
            number=number,
            attempted_at=now,
            ok=False,
            error=error,
        )
        changes: dict[str, Any] = {"attempts": number, "last_error": error}
        if gives_up:
            changes["status"] = AlertDelivery.Status.FAILED
        else:
            changes["next_attempt_at"] = now + retry_delay(number)
        AlertDelivery.objects.unscoped().filter(pk=delivery.pk).update(**changes)
    where = f"{delivery.channel} to {_shown_target(delivery)}"
    if gives_up:
        report.failed += 1
        logger.error(
            "alert delivery %s FAILED after %d attempt(s), giving up: %s notice of incident %s "
            "by %s: %s",
            delivery.pk,
            number,
            delivery.notice,
            delivery.incident_id,
            where,
            error,
        )
    else:
        report.retrying += 1
        logger.warning(
            "alert delivery %s attempt %d failed (%s), retrying at %s: %s",
            delivery.pk,
            number,
            where,
            changes["next_attempt_at"].isoformat(),
            error,
        )


def _shown_target(delivery: AlertDelivery) -> str:
    if delivery.channel == AlertDelivery.Channel.WEBHOOK:
        return mask_url(delivery.target)
    return delivery.target


# Rendering -----------------------------------------------------------------------------


def describe(delivery: AlertDelivery) -> dict[str, Any]:
    """The JSON body a webhook receives (and the facts every other rendering uses)."""
    incident = delivery.incident
    deployment = incident.deployment
    organization = deployment.organization
    return {
        "notice": delivery.notice,
        "organization": organization.slug,
        "deployment": deployment.name,
        "incident": {
            "id": incident.pk,
            "kind": incident.kind,
            "key": incident.key,
            "opened_at": incident.opened_at.isoformat(),
            "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
            "details": incident.details,
        },
        "summary": summary_line(delivery),
        "url": f"{settings.BASE_URL}/api/v1/orgs/{organization.slug}/deployments/"
        f"{deployment.name}/incidents/",
    }


def summary_line(delivery: AlertDelivery) -> str:
    incident = delivery.incident
    label = IncidentKind(incident.kind).label
    where = f"{incident.deployment.organization.slug}/{incident.deployment.name}"
    prefix = "Resolved: " if delivery.notice == AlertDelivery.Notice.RESOLVED else ""
    return f"{prefix}{label} in {where}: {incident.key}"


def slack_payload(delivery: AlertDelivery) -> dict[str, str]:
    """Slack's incoming-webhook shape: ``{"text": ...}`` with mrkdwn."""
    facts = describe(delivery)
    resolved = delivery.notice == AlertDelivery.Notice.RESOLVED
    lines = [f"{':white_check_mark:' if resolved else ':rotating_light:'} *{facts['summary']}*"]
    lines += [f"• {name}: {value}" for name, value in sorted(delivery.incident.details.items())]
    lines.append(f"<{facts['url']}|Incidents of {facts['deployment']}>")
    return {"text": "\n".join(lines)}


def email_body(delivery: AlertDelivery) -> str:
    facts = describe(delivery)
    incident = facts["incident"]
    lines = [facts["summary"], ""]
    lines += [f"{name}: {value}" for name, value in sorted(incident["details"].items())]
    lines += ["", f"Opened at: {incident['opened_at']}"]
    if incident["resolved_at"]:
        lines.append(f"Resolved at: {incident['resolved_at']}")
    lines += ["", f"Incidents: {facts['url']}", "", "-- Assay alerts"]
    return "\n".join(lines) + "\n"


# Channels ------------------------------------------------------------------------------


def _send(delivery: AlertDelivery) -> None:
    if delivery.channel == AlertDelivery.Channel.EMAIL:
        _send_email(delivery)
    elif delivery.channel == AlertDelivery.Channel.WEBHOOK:
        _send_webhook(delivery)
    else:
        raise DeliveryError(f"unknown channel {delivery.channel!r}", permanent=True)


def _send_email(delivery: AlertDelivery) -> None:
    message = EmailMessage(
        subject=" ".join(f"[Assay] {summary_line(delivery)}".split()),  # one line, always
        body=email_body(delivery),
        from_email=settings.ALERT_FROM_EMAIL,
        to=[delivery.target],
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        with get_connection(fail_silently=False) as mail:
            sent = mail.send_messages([message])
    except Exception as error:  # smtplib and socket errors alike: retry
        raise DeliveryError(f"email: {type(error).__name__}: {error}") from error
    if not sent:
        raise DeliveryError("email: the backend sent nothing")


def _send_webhook(delivery: AlertDelivery) -> None:
    payload = slack_payload(delivery) if delivery.payload_format == "slack" else describe(delivery)
    request = urllib.request.Request(
        delivery.target,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "assay-alerts/1"},
    )
    opener = _opener(allow_private=settings.ALERT_WEBHOOK_ALLOW_PRIVATE)
    try:
        with opener.open(request, timeout=settings.ALERT_WEBHOOK_TIMEOUT_SECONDS) as response:
            response.read(1024)
    except urllib.error.HTTPError as error:
        body = error.read(200).decode("utf-8", "replace").strip()
        # Client errors will not heal by retrying (a deleted Slack webhook answers 404),
        # except a timeout or rate limit.
        permanent = 300 <= error.code < 500 and error.code not in (408, 429)
        detail = f" {body}" if body else ""
        raise DeliveryError(
            f"webhook answered HTTP {error.code}{detail}", permanent=permanent
        ) from None
    except urllib.error.URLError as error:
        # One text whatever happened (refused address, closed port, timeout, DNS): the
        # error is shown to Viewers, and differing texts would make it a port scanner.
        raise DeliveryError(
            WEBHOOK_UNREACHABLE, permanent=isinstance(error.reason, PrivateAddressRefused)
        ) from error
    except (OSError, http.client.HTTPException) as error:
        raise DeliveryError(WEBHOOK_UNREACHABLE) from error


WEBHOOK_UNREACHABLE = "webhook: the target could not be reached"


class PrivateAddressRefused(OSError):
    """A webhook resolved to a private, loopback or link-local address (SSRF guard)."""


def _is_private(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    # Not globally routable: private, loopback, link-local (cloud metadata), shared, reserved.
    return not address.is_global or address.is_multicast


def _connect_pinned(
    host: str, port: int, timeout: float | None, source_address: Any, *, refuse_private: bool
) -> socket.socket:
    """Resolve ``host`` once, refuse it before connecting if any address is private, and
    connect to exactly the addresses checked (pinned: no second lookup to rebind)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = [(info[0], info[4]) for info in infos]
    if refuse_private and any(_is_private(ipaddress.ip_address(a[1][0])) for a in addresses):
        raise PrivateAddressRefused(f"{host} resolves to a private address")
    last_error: OSError = OSError(f"{host} resolves to no address")
    for family, sockaddr in addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            if timeout is not None:
                sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
            return sock
        except OSError as error:
            sock.close()
            last_error = error
    raise last_error


class _GuardedHTTPConnection(http.client.HTTPConnection):
    """Connects only to the addresses the SSRF guard checked (see ``_connect_pinned``)."""

    def __init__(self, *args: Any, refuse_private: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(  # type: ignore[method-assign]
            _connect_guarded, refuse_private=refuse_private
        )


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    """As above; TLS still verifies the certificate against the URL's host name."""

    def __init__(self, *args: Any, refuse_private: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._create_connection = functools.partial(  # type: ignore[method-assign]
            _connect_guarded, refuse_private=refuse_private
        )


def _connect_guarded(
    address: tuple[str, int],
    timeout: float | None = None,
    source_address: Any = None,
    *,
    refuse_private: bool,
) -> socket.socket:
    host, port = address
    return _connect_pinned(host, port, timeout, source_address, refuse_private=refuse_private)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, *, refuse_private: bool):
        super().__init__()
        self.connection_class = functools.partial(
            _GuardedHTTPConnection, refuse_private=refuse_private
        )

    def http_open(self, req):
        return self.do_open(self.connection_class, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, *, refuse_private: bool):
        super().__init__(context=ssl.create_default_context())
        self.connection_class = functools.partial(
            _GuardedHTTPSConnection, refuse_private=refuse_private
        )

    def https_open(self, req):
        return self.do_open(self.connection_class, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook that redirects is misconfigured; following it could leave the checked host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


def _opener(*, allow_private: bool) -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _NoRedirects(),
        _GuardedHTTPHandler(refuse_private=not allow_private),
        _GuardedHTTPSHandler(refuse_private=not allow_private),
    )
