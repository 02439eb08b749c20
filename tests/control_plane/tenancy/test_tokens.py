"""API tokens: hashed at rest, shown once, revocable, expiring, with a last-used time."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta

import pytest
from django.utils import timezone

from control_plane.audit.models import AuditEvent
from control_plane.tenancy.models import ApiToken
from tests.control_plane.api.database import all_rows


def _all_rows_text() -> str:
    return "\n".join("\n".join(rows) for _table, rows in all_rows())


def _create(client, **body):
    response = client.post("/api/v1/orgs/acme/tokens/", {"name": "ci", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _rejections(acme) -> int:
    return (
        AuditEvent.objects.unscoped()
        .filter(organization=acme.organization, action="token.rejected")
        .count()
    )


def test_token_is_stored_only_as_a_sha256_hash(acme):
    created = _create(acme.client())
    secret = created["token"]
    assert secret.startswith(f"assay_u_{created['prefix_id']}_")
    row = ApiToken.objects.unscoped().get(pk=created["id"])
    assert row.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = _all_rows_text()
    assert secret not in stored
    assert secret.split("_", 3)[3] not in stored


def test_token_secret_is_shown_only_in_the_creation_answer(acme):
    created = _create(acme.client())
    secret = created["token"]
    detail = acme.client().get(f"/api/v1/orgs/acme/tokens/{created['id']}/")
    listing = acme.client().get("/api/v1/orgs/acme/tokens/")
    assert detail.status_code == listing.status_code == 200
    for response in (detail, listing):
        assert secret not in response.content.decode()
        assert b'"token"' not in response.content


def test_new_token_authenticates_as_its_owner(acme):
    secret = _create(acme.client())["token"]
    assert acme.client(secret).get("/api/v1/orgs/acme/").status_code == 200


def test_revoked_token_answers_401_and_the_attempt_is_audited(acme):
    created = _create(acme.client())
    assert acme.client().delete(f"/api/v1/orgs/acme/tokens/{created['id']}/").status_code == 204
    before = _rejections(acme)
    response = acme.client(created["token"]).get("/api/v1/orgs/acme/")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]
    assert _rejections(acme) == before + 1


def test_expired_token_answers_401_and_the_attempt_is_audited(acme):
    created = _create(acme.client(), expires_at=(timezone.now() + timedelta(days=1)).isoformat())
    ApiToken.objects.unscoped().filter(pk=created["id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = acme.client(created["token"]).get("/api/v1/orgs/acme/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
    assert _rejections(acme) == 1


def test_expiry_in_the_past_is_rejected_at_creation(acme):
    response = acme.client().post(
        "/api/v1/orgs/acme/tokens/",
        {"name": "old", "expires_at": (timezone.now() - timedelta(days=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 400
    assert "expires_at" in response.json()["errors"]


def test_tampered_or_unknown_token_answers_401(acme):
    secret = _create(acme.client())["token"]
    for bad in (secret[:-2] + "xx", "assay_u_000000000000_nope", "assay_u_", "garbage"):
        assert acme.client(bad).get("/api/v1/orgs/acme/").status_code == 401


def test_last_used_time_is_recorded_and_writes_are_throttled(acme):
    created = _create(acme.client())
    assert ApiToken.objects.unscoped().get(pk=created["id"]).last_used_at is None
    acme.client(created["token"]).get("/api/v1/orgs/acme/")
    first = ApiToken.objects.unscoped().get(pk=created["id"]).last_used_at
    assert first is not None
    acme.client(created["token"]).get("/api/v1/orgs/acme/")
    assert ApiToken.objects.unscoped().get(pk=created["id"]).last_used_at == first
    ApiToken.objects.unscoped().filter(pk=created["id"]).update(
        last_used_at=first - timedelta(minutes=5)
    )
    acme.client(created["token"]).get("/api/v1/orgs/acme/")
    assert ApiToken.objects.unscoped().get(pk=created["id"]).last_used_at > first - timedelta(
        minutes=5
    )


def test_agent_token_is_refused_by_the_rest_api(acme):
    created = _create(acme.client(), kind="agent", deployments=["prod"])
    assert created["token"].startswith("assay_a_")
    assert created["deployments"] == ["prod"]
    assert acme.client(created["token"]).get("/api/v1/orgs/acme/").status_code == 401


def test_member_sees_and_revokes_only_their_own_tokens(acme):
    from control_plane.tenancy.roles import Role

    _, viewer_token = acme.member_with_role(Role.VIEWER)
    admins = _create(acme.client())
    mine = acme.client(viewer_token).get("/api/v1/orgs/acme/tokens/").json()["results"]
    assert all(t["owner"] != acme.admin.email for t in mine)
    assert (
        acme.client(viewer_token).delete(f"/api/v1/orgs/acme/tokens/{admins['id']}/").status_code
        == 404
    )
    own = mine[0]["id"]
    assert acme.client(viewer_token).delete(f"/api/v1/orgs/acme/tokens/{own}/").status_code == 204


def test_viewer_cannot_create_agent_tokens(acme):
    from control_plane.tenancy.roles import Role

    _, viewer_token = acme.member_with_role(Role.VIEWER)
    response = acme.client(viewer_token).post(
        "/api/v1/orgs/acme/tokens/",
        {"name": "a", "kind": "agent", "deployments": ["prod"]},
        format="json",
    )
    assert response.status_code == 403


def test_token_secrets_never_reach_the_logs(acme, caplog):
    created = _create(acme.client())
    acme.client().delete(f"/api/v1/orgs/acme/tokens/{created['id']}/")
    with caplog.at_level(logging.DEBUG):
        acme.client(created["token"]).get("/api/v1/orgs/acme/")
        acme.client(created["token"] + "x").get("/api/v1/orgs/acme/")
    assert created["token"] not in caplog.text


@pytest.mark.parametrize("header", ["Token abc", "Bearer", "Basic dXNlcjpwYXNz"])
def test_malformed_authorization_header_answers_401(acme, header):
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get("/api/v1/orgs/acme/").status_code == 401


def test_narrowed_token_cannot_mint_a_wider_token(acme):
    narrowed = _create(acme.client(), max_role="viewer")["token"]
    response = acme.client(narrowed).post(
        "/api/v1/orgs/acme/tokens/", {"name": "wide"}, format="json"
    )
    assert response.status_code == 403


def test_token_narrowed_to_a_deployment_cannot_mint_a_wider_token(acme):
    """The escape this closes: narrowed token -> unnarrowed token -> Org Admin powers."""
    narrowed = _create(acme.client(), deployment="prod")["token"]
    count = ApiToken.objects.unscoped().count()
    for body in ({"name": "wide"}, {"name": "elsewhere", "deployment": "other"}):
        response = acme.client(narrowed).post("/api/v1/orgs/acme/tokens/", body, format="json")
        assert response.status_code in (403, 404), response.content
    assert ApiToken.objects.unscoped().count() == count


def test_token_capped_at_a_role_cannot_mint_a_token_with_a_higher_cap(acme):
    capped = _create(acme.client(), max_role="launcher")["token"]
    response = acme.client(capped).post(
        "/api/v1/orgs/acme/tokens/", {"name": "higher", "max_role": "editor"}, format="json"
    )
    assert response.status_code == 403


def test_narrowed_token_can_mint_a_token_within_its_own_limits(acme):
    narrowed = _create(acme.client(), deployment="prod", max_role="launcher")["token"]
    child = _create(acme.client(narrowed), deployment="prod", max_role="viewer")
    assert (child["deployment"], child["max_role"]) == ("prod", "viewer")


def test_expiring_token_cannot_mint_a_token_that_outlives_it(acme):
    soon = timezone.now() + timedelta(hours=1)
    short = _create(acme.client(), expires_at=soon.isoformat())["token"]
    for expiry in (None, soon + timedelta(days=1)):
        body = {"name": "longer"} | ({"expires_at": expiry.isoformat()} if expiry else {})
        response = acme.client(short).post("/api/v1/orgs/acme/tokens/", body, format="json")
        assert response.status_code == 403, response.content
    within = _create(acme.client(short), expires_at=(soon - timedelta(minutes=5)).isoformat())
    assert within["expires_at"] is not None


def test_token_narrowed_to_a_deployment_lists_only_that_deployment_and_its_locations(acme):
    from control_plane.core.context import tenant_context
    from control_plane.tenancy import services
    from control_plane.tenancy.models import Deployment, Membership
    from control_plane.tenancy.roles import Role

    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = Deployment.objects.get(name="prod")
        other = services.create_deployment(ctx=ctx, name="other")
        hidden = services.create_code_location(ctx=ctx, deployment=other, name="hidden")
    user, token = acme.member_with_role(Role.EDITOR, scope=prod)
    with tenant_context(ctx):
        membership = Membership.objects.get(user=user)
        services.create_grant(
            ctx=ctx, role=Role.VIEWER, membership=membership, code_location=hidden
        )
    unnarrowed = acme.client(token)
    assert [d["name"] for d in unnarrowed.get("/api/v1/orgs/acme/deployments/").json()["results"]]
    narrowed = acme.client(_create(unnarrowed, deployment="prod")["token"])
    listed = narrowed.get("/api/v1/orgs/acme/deployments/").json()["results"]
    assert [d["name"] for d in listed] == ["prod"]
    assert narrowed.get("/api/v1/orgs/acme/deployments/other/").status_code == 403
    locations = narrowed.get("/api/v1/orgs/acme/deployments/other/code-locations/").json()
    assert locations["results"] == []
    # Without the narrowing the same member does see the location granted to them.
    seen = unnarrowed.get("/api/v1/orgs/acme/deployments/other/code-locations/").json()
    assert [loc["name"] for loc in seen["results"]] == ["hidden"]


def test_only_an_operator_can_create_a_token_acting_as_another_user(acme):
    from control_plane.core.context import Principal, tenant_context
    from control_plane.tenancy import services
    from control_plane.tenancy.errors import NotAllowed

    other = acme.member()
    with tenant_context(acme.ctx()), pytest.raises(NotAllowed):
        services.create_user_token(ctx=acme.ctx(), name="impersonate", user=other.user)
    operator = acme.ctx(Principal.system("operator"))
    with tenant_context(operator):
        token, _ = services.create_user_token(ctx=operator, name="for-them", user=other.user)
    assert token.user == other.user


def test_deleting_a_deployment_revokes_the_tokens_narrowed_to_it_on_the_record(acme):
    from control_plane.core.context import tenant_context
    from control_plane.tenancy import services

    with tenant_context(acme.ctx()):
        feature = services.create_deployment(ctx=acme.ctx(), name="feature-x")
        narrowed, secret = services.create_user_token(ctx=acme.ctx(), name="ci", deployment=feature)
    response = acme.client().delete("/api/v1/orgs/acme/deployments/feature-x/")
    assert response.status_code == 204, response.content
    actions = list(
        AuditEvent.objects.unscoped().order_by("seq").values_list("action", "target_id")
    )[-2:]
    assert actions == [("deployment.delete", str(feature.pk)), ("token.revoke", str(narrowed.pk))]
    assert not ApiToken.objects.unscoped().filter(pk=narrowed.pk).exists()
    answer = acme.client(secret).get("/api/v1/orgs/acme/deployments/")
    assert answer.status_code == 401


def test_a_narrowed_token_cannot_mint_an_agent_token_beyond_its_expiry_or_deployment(acme):
    """The attack: a leaked token that expires in an hour, or reaches only prod, mints an
    agent token that never expires or also serves another deployment. (A token narrowed to
    a deployment cannot manage the organization's tokens at all; the service refuses the
    wider deployments as well, should that ever change.)"""
    from control_plane.core.context import tenant_context
    from control_plane.tenancy.services import create_deployment

    with tenant_context(acme.ctx()):
        create_deployment(ctx=acme.ctx(), name="staging")
    soon = timezone.now() + timedelta(hours=1)
    short = _create(acme.client(), expires_at=soon.isoformat())["token"]
    narrowed = _create(acme.client(), deployment="prod")["token"]
    count = ApiToken.objects.unscoped().count()

    attempts = [
        (short, {"deployments": ["prod"]}),
        (short, {"deployments": ["prod"], "expires_at": (soon + timedelta(days=1)).isoformat()}),
        (narrowed, {"deployments": ["prod", "staging"]}),
        (narrowed, {"deployments": ["staging"]}),
    ]
    for token, body in attempts:
        response = acme.client(token).post(
            "/api/v1/orgs/acme/tokens/", {"name": "agent", "kind": "agent", **body}, format="json"
        )
        assert response.status_code == 403, (body, response.content)
    assert ApiToken.objects.unscoped().count() == count

    within = {"deployments": ["prod"], "expires_at": (soon - timedelta(minutes=5)).isoformat()}
    assert _create(acme.client(short), kind="agent", **within)["expires_at"] is not None
