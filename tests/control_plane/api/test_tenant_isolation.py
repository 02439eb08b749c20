"""Every API endpoint answers 404 to another organization's principal and 401 without
credentials, and changes nothing — so a future endpoint cannot forget tenant scoping.

Endpoints are enumerated from the URL configuration (``routes.py``) and the objects their
URLs name are built by ``endpoints.py`` (which apps extend), so nobody has to list them.
"""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from control_plane.core.context import tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import ApiToken, RoleGrant
from tests.control_plane.api.database import database_fingerprint
from tests.control_plane.api.endpoints import build_victim
from tests.control_plane.api.routes import HTTP_METHODS, api_routes

# Endpoints outside any organization, and why that is safe.
NOT_TENANT_SCOPED = {
    "schema": "the OpenAPI description; no tenant data",
    "docs": "the API docs page; no tenant data",
    "org-list": "lists only the caller's own organizations (tested below)",
}
# What an attacker sends to every endpoint: plausible fields naming powerful things.
ATTACK_BODY = {"name": "evil", "role": "org_admin", "email": "evil@globex.test"}


@pytest.fixture
def victim(acme):
    """acme with one object of every kind, named so no other organization shares the names."""
    return build_victim(acme.ctx()).values


def _attacker_clients(globex):
    by_token = globex.client()
    by_session = APIClient()
    by_session.force_login(globex.admin)
    return {"globex token": by_token, "globex session": by_session}


def test_every_api_route_is_known_to_this_test():
    for route in api_routes():
        assert "org" in route.kwargs or route.name in NOT_TENANT_SCOPED, (
            f"{route.template} is outside /orgs/{{org}}/: scope it or justify it here"
        )


@pytest.mark.django_db
def test_other_organizations_principal_gets_404_and_changes_nothing_on_every_endpoint(
    victim, globex
):
    attackers = _attacker_clients(globex)
    for client in attackers.values():
        assert client.get("/api/v1/orgs/globex/").status_code == 200  # warm: last_used_at
    before = database_fingerprint()
    failures, unbuilt = [], set()
    checked = 0
    for route in api_routes():
        if "org" not in route.kwargs:
            continue
        missing = set(route.kwargs) - set(victim)
        unbuilt |= missing
        urls = {"victim org": route.placeholder_url(victim)}
        if not missing and route.kwargs != ["org"]:
            # Own organization in the URL, the victim's objects after it.
            urls["own org"] = route.url({**victim, "org": "globex"})
        for label, client in attackers.items():
            for where, url in urls.items():
                for method in HTTP_METHODS:  # even those the view lacks: no 405 leak
                    response = getattr(client, method)(url, ATTACK_BODY, format="json")
                    if response.status_code != 404:
                        failures.append(f"{label} {method.upper()} {url} ({where}) -> {response}")
                    checked += 1
    assert not failures, "\n".join(failures)
    assert not unbuilt, (
        f"no victim object for URL keywords {sorted(unbuilt)}: build one in "
        "tests/control_plane/<app>/endpoints.py (see tests/control_plane/api/endpoints.py)"
    )
    assert checked > 100
    assert database_fingerprint() == before


@pytest.mark.django_db
def test_requests_without_credentials_get_401_and_change_nothing_on_every_endpoint(victim):
    before = database_fingerprint()
    anonymous = APIClient()
    failures = []
    for route in api_routes():
        if route.name in NOT_TENANT_SCOPED and route.name != "org-list":
            continue
        for method in HTTP_METHODS:
            url = route.placeholder_url(victim)
            response = getattr(anonymous, method)(url, ATTACK_BODY, format="json")
            if response.status_code != 401:
                failures.append(f"{method.upper()} {url} -> {response.status_code}")
    assert not failures, "\n".join(failures)
    assert database_fingerprint() == before


@pytest.mark.django_db
def test_ids_of_another_organization_in_a_request_body_are_not_found(victim, globex):
    """The attacker's own URLs, the victim's objects named in the body."""
    with tenant_context(globex.ctx()):
        team = services.create_team(ctx=globex.ctx(), name="attackers")
    client = globex.client()
    client.get("/api/v1/orgs/globex/")  # settle last_used_at
    before = database_fingerprint()
    attempts = [
        ("grants/", {"role": "viewer", "member_id": victim["member_id"]}),
        ("grants/", {"role": "viewer", "team_id": victim["team_id"]}),
        ("grants/", {"role": "viewer", "team_id": team.pk, "deployment": victim["deployment"]}),
        (
            "grants/",
            {
                "role": "viewer",
                "team_id": team.pk,
                "deployment": "prod",
                "code_location": victim["location"],
            },
        ),
        (f"teams/{team.pk}/members/", {"member_id": victim["member_id"]}),
        ("tokens/", {"name": "t", "deployment": victim["deployment"]}),
        ("tokens/", {"name": "t", "kind": "agent", "deployments": [victim["deployment"]]}),
    ]
    for path, body in attempts:
        response = client.post(f"/api/v1/orgs/globex/{path}", body, format="json")
        assert response.status_code == 404, (path, body, response.content)
    assert database_fingerprint() == before


@pytest.mark.django_db
def test_member_of_both_organizations_cannot_use_one_organizations_token_on_the_other(acme, globex):
    ctx = globex.ctx()
    with tenant_context(ctx):
        services.add_member(ctx=ctx, email=acme.admin.email)
    assert acme.client().get("/api/v1/orgs/globex/").status_code == 404
    assert [o["slug"] for o in acme.client().get("/api/v1/orgs/").json()["results"]] == ["acme"]


@pytest.mark.django_db
def test_organization_list_shows_only_the_callers_organizations(acme, globex):
    session = APIClient()
    session.force_login(acme.admin)
    assert [o["slug"] for o in session.get("/api/v1/orgs/").json()["results"]] == ["acme"]


@pytest.mark.django_db
def test_scoped_managers_refuse_queries_outside_an_organization_context(acme):
    from control_plane.core.errors import TenancyContextMissing

    with pytest.raises(TenancyContextMissing):
        list(RoleGrant.objects.all())
    assert ApiToken.objects.unscoped().filter(organization=acme.organization).exists()


@pytest.mark.django_db
def test_scoped_managers_return_only_the_current_organizations_rows(acme, globex):
    with tenant_context(globex.ctx()):
        grants = list(RoleGrant.objects.all())
    assert grants and {g.organization_id for g in grants} == {globex.organization.pk}


def test_schema_endpoint_serves_openapi_without_credentials(db):
    response = APIClient().get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    body = response.json() if response["Content-Type"].startswith("application/json") else None
    if body is None:
        import yaml

        body = yaml.safe_load(response.content)
    assert body["openapi"].startswith("3.")
    assert "/api/v1/orgs/{org}/deployments/" in body["paths"]
    assert APIClient().get("/api/v1/docs/").status_code == 200
