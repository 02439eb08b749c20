"""Failed API authentications are rate limited per client address and per token prefix:
guessing tokens stops at the limit with a JSON 429, and reaching it is audited."""

from __future__ import annotations

import secrets

import pytest
from django.core.cache import cache

from control_plane.audit.models import AuditEvent

API = "/api/v1/orgs/acme/"


@pytest.fixture(autouse=True)
def small_limit(settings):
    settings.API_AUTH_FAILURE_LIMIT = 5
    settings.API_AUTH_FAILURE_WINDOW_SECONDS = 300
    cache.clear()
    yield
    cache.clear()


def _get(acme, token: str, ip: str):
    return acme.client(token).get(API, REMOTE_ADDR=ip)


def test_guesses_from_one_address_are_stopped_with_a_json_429(acme):
    for _ in range(5):
        guess = f"assay_u_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
        assert _get(acme, guess, "203.0.113.7").status_code == 401
    blocked = _get(acme, acme.admin_token, "203.0.113.7")  # the right token too
    assert blocked.status_code == 429
    assert blocked["Content-Type"].startswith("application/json")
    assert "Too many" in blocked.json()["detail"]
    assert _get(acme, acme.admin_token, "203.0.113.8").status_code == 200


def test_guesses_at_one_token_from_many_addresses_are_stopped_and_audited(acme):
    prefix = acme.admin_token.split("_")[2]
    for i in range(5):
        guess = f"assay_u_{prefix}_{secrets.token_urlsafe(32)}"
        assert _get(acme, guess, f"198.51.100.{i}").status_code == 401
    assert _get(acme, acme.admin_token, "198.51.100.99").status_code == 429
    [event] = AuditEvent.objects.unscoped().filter(
        organization=acme.organization, action="token.rate_limited"
    )
    assert event.after == {"prefix_id": prefix}
    assert event.actor_type == "anonymous"


def test_successful_requests_are_not_counted(acme):
    for _ in range(10):
        assert _get(acme, acme.admin_token, "192.0.2.1").status_code == 200
