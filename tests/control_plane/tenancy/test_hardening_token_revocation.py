"""Tokens narrow, never widen, for revocation too: a leaked narrowed token cannot revoke
its owner's wider tokens (a denial of service on the owner's automation)."""

from __future__ import annotations

import pytest

from control_plane.tenancy.models import ApiToken

TOKENS = "/api/v1/orgs/acme/tokens/"


def _create(client, **body) -> dict:
    response = client.post(TOKENS, {"name": "t", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def _revoked(token_id: int) -> bool:
    return ApiToken.objects.unscoped().get(pk=token_id).revoked_at is not None


@pytest.mark.parametrize("narrowing", [{"max_role": "viewer"}, {"deployment": "prod"}])
def test_a_narrowed_token_cannot_revoke_a_wider_token_of_its_owner(acme, narrowing):
    wide = _create(acme.client())
    narrowed = _create(acme.client(), **narrowing)["token"]
    response = acme.client(narrowed).delete(f"{TOKENS}{wide['id']}/")
    assert response.status_code == 403, response.content
    assert not _revoked(wide["id"])


def test_a_narrowed_token_cannot_revoke_an_agent_token(acme):
    agent = _create(acme.client(), kind="agent", deployments=["prod"])
    narrowed = _create(acme.client(), max_role="viewer")["token"]
    assert acme.client(narrowed).delete(f"{TOKENS}{agent['id']}/").status_code in (403, 404)
    assert not _revoked(agent["id"])


def test_a_narrowed_token_revokes_itself_and_tokens_within_its_limits(acme):
    narrowed = _create(acme.client(), deployment="prod", max_role="launcher")
    child = _create(acme.client(narrowed["token"]), deployment="prod", max_role="viewer")
    client = acme.client(narrowed["token"])
    assert client.delete(f"{TOKENS}{child['id']}/").status_code == 204
    assert client.delete(f"{TOKENS}{narrowed['id']}/").status_code == 204
    assert _revoked(child["id"]) and _revoked(narrowed["id"])


def test_an_unnarrowed_token_still_revokes_any_of_its_owners_tokens(acme):
    narrowed = _create(acme.client(), max_role="viewer")
    assert acme.client().delete(f"{TOKENS}{narrowed['id']}/").status_code == 204
