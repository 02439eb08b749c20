"""Session (console) and Bearer token authentication, and CSRF on the session path."""

from __future__ import annotations

from rest_framework.test import APIClient

from tests.control_plane.api.database import database_fingerprint

CSRF_TOKEN = "k" * 32  # any well-formed token: the cookie and the header must agree


def _session(acme) -> APIClient:
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(acme.admin)
    return client


def test_session_can_read_without_a_csrf_token(acme):
    assert _session(acme).get("/api/v1/orgs/acme/deployments/").status_code == 200


def test_session_write_without_a_csrf_token_is_refused_and_writes_nothing(acme):
    client = _session(acme)
    before = database_fingerprint()
    response = client.post("/api/v1/orgs/acme/deployments/", {"name": "forged"}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert database_fingerprint() == before


def test_session_write_with_a_mismatched_csrf_token_is_refused(acme):
    client = _session(acme)
    client.cookies["csrftoken"] = CSRF_TOKEN
    response = client.post(
        "/api/v1/orgs/acme/deployments/",
        {"name": "forged"},
        format="json",
        HTTP_X_CSRFTOKEN="j" * 32,
    )
    assert response.status_code == 403


def test_session_write_with_the_csrf_token_succeeds(acme):
    client = _session(acme)
    client.cookies["csrftoken"] = CSRF_TOKEN
    response = client.post(
        "/api/v1/orgs/acme/deployments/",
        {"name": "feature"},
        format="json",
        HTTP_X_CSRFTOKEN=CSRF_TOKEN,
    )
    assert response.status_code == 201, response.content


def test_bearer_token_writes_need_no_csrf_token(acme):
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {acme.admin_token}")
    response = client.post("/api/v1/orgs/acme/deployments/", {"name": "ci"}, format="json")
    assert response.status_code == 201


def test_inactive_users_session_is_not_accepted(acme):
    client = _session(acme)
    acme.admin.is_active = False
    acme.admin.save(update_fields=["is_active"])
    assert client.get("/api/v1/orgs/acme/").status_code == 401


def test_inactive_users_tokens_answer_401(acme):
    acme.admin.is_active = False
    acme.admin.save(update_fields=["is_active"])
    response = acme.client().get("/api/v1/orgs/acme/")
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"]


def test_removed_members_session_sees_the_organization_as_missing(acme):
    from control_plane.core.context import tenant_context
    from control_plane.tenancy import services
    from control_plane.tenancy.models import Membership

    member = acme.member("leaver@acme.test")
    client = APIClient()
    client.force_login(member.user)
    assert client.get("/api/v1/orgs/acme/").status_code == 200
    with tenant_context(acme.ctx()):
        services.remove_member(ctx=acme.ctx(), membership=Membership.objects.get(pk=member.pk))
    assert client.get("/api/v1/orgs/acme/").status_code == 404


def _audited_ip(acme, **headers) -> str:
    from control_plane.audit.models import AuditEvent

    name = f"team-{AuditEvent.objects.unscoped().count()}"
    response = acme.client().post("/api/v1/orgs/acme/teams/", {"name": name}, **headers)
    assert response.status_code == 201
    return AuditEvent.objects.unscoped().filter(action="team.create").latest("seq").ip


def test_audit_records_the_peer_address_and_ignores_forwarded_headers_by_default(acme):
    ip = _audited_ip(acme, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert ip == "10.1.1.1"


def test_behind_the_tls_proxy_audit_records_the_address_the_proxy_appended(acme, settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    forged_then_real = "6.6.6.6, 203.0.113.7"  # the client's own entry first, the proxy's last
    ip = _audited_ip(acme, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forged_then_real)
    assert ip == "203.0.113.7"
    assert _audited_ip(acme, REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="junk") == "10.0.0.2"
