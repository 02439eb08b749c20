"""The webhook SSRF guard refuses private targets before connecting, and its error text
is the same whatever the target's port state (no port scanner for Viewers)."""

from __future__ import annotations

import socket
from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.alerts import services
from control_plane.alerts.delivery import WEBHOOK_UNREACHABLE, deliver_due
from control_plane.alerts.models import AlertDelivery

pytestmark = pytest.mark.django_db


@pytest.fixture
def listener():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def _closed_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


def _deliver_to(prod, make_policy, url: str, key: str) -> AlertDelivery:
    make_policy(webhooks=[{"url": url}])
    services.open_incident(
        deployment=prod, kind="freshness_violation", key=key, details={"asset": key}
    )
    deliver_due(now=timezone.now() + timedelta(seconds=1))
    return AlertDelivery.objects.unscoped().filter(incident__key=key).get()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_private_target_is_refused_before_any_connection(
    prod, make_policy, settings, listener, host
):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    port = listener.getsockname()[1]
    delivery = _deliver_to(prod, make_policy, f"http://{host}:{port}/hook", f"k-{host}")
    assert (delivery.status, delivery.last_error) == ("failed", WEBHOOK_UNREACHABLE)
    with pytest.raises(BlockingIOError):  # nothing ever connected to the listener
        listener.accept()


def test_open_and_closed_ports_fail_with_the_same_text(prod, make_policy, settings, listener):
    settings.ALERT_WEBHOOK_ALLOW_PRIVATE = False
    urls = [f"http://127.0.0.1:{listener.getsockname()[1]}/", f"http://127.0.0.1:{_closed_port()}/"]
    make_policy(webhooks=[{"url": url} for url in urls])
    services.open_incident(deployment=prod, kind="freshness_violation", key="k", details={})
    deliver_due(now=timezone.now() + timedelta(seconds=1))
    errors = [d.last_error for d in AlertDelivery.objects.unscoped().order_by("id")]
    assert errors == [WEBHOOK_UNREACHABLE, WEBHOOK_UNREACHABLE]
