"""Bad input answers 400 with field-level messages and writes nothing."""

from __future__ import annotations

import pytest

from tests.control_plane.api.database import database_fingerprint

CASES = [
    ("post", "deployments/", {"name": "Bad Name!"}, "name"),
    ("post", "deployments/", {"name": "ok", "colour": "red"}, "colour"),
    ("post", "deployments/", {"name": "x" * 64}, "name"),
    ("post", "deployments/", {"name": "ok", "max_concurrent_runs": "many"}, "max_concurrent_runs"),
    ("post", "deployments/", {}, "name"),
    ("patch", "deployments/prod/", {"max_concurrent_runs": 0}, "max_concurrent_runs"),
    ("patch", "deployments/prod/", {"name": "renamed"}, "name"),
    ("post", "deployments/prod/code-locations/", {"name": "-leading"}, "name"),
    ("post", "deployments/prod/code-locations/", {"name": "ok", "module": 5 * "x" * 60}, "module"),
    ("post", "members/", {"email": "not-an-email"}, "email"),
    ("post", "teams/", {"name": ""}, "name"),
    ("post", "grants/", {"role": "emperor", "member_id": 1}, "role"),
    ("post", "grants/", {"role": "viewer"}, "member_id"),
    ("post", "tokens/", {"name": "t", "kind": "agent"}, "deployments"),
    ("post", "tokens/", {"name": "t", "expires_at": "tomorrow"}, "expires_at"),
    ("patch", "", {"slug": "stolen"}, "slug"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES)
def test_bad_input_answers_400_naming_the_field_and_writes_nothing(acme, method, path, body, field):
    client = acme.client()
    client.get("/api/v1/orgs/acme/")  # settle the token's last-used time first
    before = database_fingerprint()
    response = getattr(client, method)(f"/api/v1/orgs/acme/{path}", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert database_fingerprint() == before


def test_non_object_json_body_answers_400(acme):
    response = acme.client().post("/api/v1/orgs/acme/deployments/", [1, 2], format="json")
    assert response.status_code == 400


def test_duplicate_name_answers_409_and_writes_nothing(acme):
    client = acme.client()
    assert (
        client.post("/api/v1/orgs/acme/deployments/", {"name": "b"}, format="json").status_code
        == 201
    )
    before = database_fingerprint()
    assert (
        client.post("/api/v1/orgs/acme/deployments/", {"name": "b"}, format="json").status_code
        == 409
    )
    assert database_fingerprint() == before


def test_prod_deployment_cannot_be_deleted(acme):
    response = acme.client().delete("/api/v1/orgs/acme/deployments/prod/")
    assert response.status_code == 409


def test_user_emails_are_unique_regardless_of_case(acme):
    client = acme.client()
    acme.member("Bo@X.test")  # a member (inviting only mails a link)
    response = client.post("/api/v1/orgs/acme/members/", {"email": "bo@x.TEST"}, format="json")
    assert response.status_code == 409


def test_unknown_fields_are_reported_together_with_the_other_fields_errors(acme):
    response = acme.client().post(
        "/api/v1/orgs/acme/deployments/", {"name": "Bad Name", "colour": "red"}, format="json"
    )
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"name", "colour"}


@pytest.mark.parametrize(
    ("query", "field"),
    [({"cursor": "garbage"}, "cursor"), ({"limit": "many"}, "limit"), ({"limit": 0}, "limit")],
)
@pytest.mark.parametrize("path", ["members/", "audit/", "deployments/"])
def test_bad_cursor_or_limit_answers_400_naming_the_parameter(acme, path, query, field):
    response = acme.client().get(f"/api/v1/orgs/acme/{path}", query)
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]


def test_limit_above_the_maximum_page_size_is_refused(acme):
    response = acme.client().get("/api/v1/orgs/acme/members/", {"limit": 501})
    assert response.status_code == 400
    assert "limit" in response.json()["errors"]


def test_adding_a_team_member_twice_answers_409_and_writes_nothing(acme):
    client = acme.client()
    member = acme.member("t@x.test")
    team = client.post("/api/v1/orgs/acme/teams/", {"name": "data"}, format="json").json()
    path = f"/api/v1/orgs/acme/teams/{team['id']}/members/"
    assert client.post(path, {"member_id": member.pk}, format="json").status_code == 201
    before = database_fingerprint()
    assert client.post(path, {"member_id": member.pk}, format="json").status_code == 409
    assert database_fingerprint() == before


def test_removing_someone_who_is_not_in_the_team_answers_404_and_writes_nothing(acme):
    client = acme.client()
    member = acme.member("t@x.test")
    team = client.post("/api/v1/orgs/acme/teams/", {"name": "data"}, format="json").json()
    before = database_fingerprint()
    response = client.delete(f"/api/v1/orgs/acme/teams/{team['id']}/members/{member.pk}/")
    assert response.status_code == 404
    assert database_fingerprint() == before
