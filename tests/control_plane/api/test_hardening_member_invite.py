"""Adding a member by email answers the same whether or not the email is known on the
platform, and never shows what another organization knows about the person."""

from __future__ import annotations

from control_plane.tenancy.models import User


def _shape(body):
    if isinstance(body, dict):
        return {
            k: _shape(v)
            for k, v in body.items()
            if k not in ("id", "email", "created_at", "expires_at")
        }
    return type(body).__name__


def test_known_and_unknown_emails_get_the_same_answer(acme, org_factory):
    other = org_factory("other")
    other.member("known@x.test")
    User.objects.filter(email="known@x.test").update(name="Secret Person")
    client = acme.client()
    known = client.post("/api/v1/orgs/acme/members/", {"email": "known@x.test"}, format="json")
    unknown = client.post("/api/v1/orgs/acme/members/", {"email": "new@x.test"}, format="json")
    assert known.status_code == unknown.status_code, (known.content, unknown.content)
    assert _shape(known.json()) == _shape(unknown.json())
    assert b"Secret" not in known.content
