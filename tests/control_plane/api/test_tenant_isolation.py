"""Every API endpoint answers 404 to another organization's principal and 401 without
credentials, and changes nothing — so a future endpoint cannot forget tenant scoping."""

from __future__ import annotations

import pytest
from django.db import connection
from rest_framework.test import APIClient

from control_plane.alerts import services as alert_services
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries, services
from control_plane.tenancy.models import ApiToken, RoleGrant
from control_plane.tenancy.roles import Role
from tests.control_plane.api.routes import HTTP_METHODS, api_routes
from tests.control_plane.factories import load_location, queue_run

# Endpoints outside any organization, and why that is safe.
NOT_TENANT_SCOPED = {
    "schema": "the OpenAPI description; no tenant data",
    "docs": "the API docs page; no tenant data",
    "org-list": "lists only the caller's own organizations (tested below)",
}


def database_fingerprint() -> dict[str, str]:
    """A digest of every row of every table."""
    digests = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(
                "SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
                f' FROM "{table}" t'
            )
            digests[table] = cursor.fetchone()[0]
    return digests


@pytest.fixture
def victim(acme):
    """acme with one object of every kind, named so no other organization shares the names."""
    ctx = acme.ctx()
    with tenant_context(ctx):
        deployment = services.create_deployment(ctx=ctx, name="acme-only")
        services.create_code_location(ctx=ctx, deployment=deployment, name="acme-loc")
        location = load_location(ctx, deployment=deployment, name="acme-loc")
        run = queue_run(ctx, location=location, selection="raw_orders")
        policy = alert_services.create_alert_policy(
            ctx=ctx,
            deployment=deployment,
            name="acme-policy",
            kinds=["freshness_violation"],
            emails=["oncall@acme.test"],
        )
        membership = services.add_member(ctx=ctx, email="victim@acme.test")
        team = services.create_team(ctx=ctx, name="acme-team")
        services.add_team_member(ctx=ctx, team=team, membership=membership)
        grant = services.create_grant(ctx=ctx, role=Role.EDITOR, membership=membership)
        token, _ = services.create_user_token(ctx=ctx, name="victim", user=membership.user)
        assert queries.get_deployment(name="acme-only")
    return {
        "org": "acme",
        "deployment": "acme-only",
        "location": "acme-loc",
        "member_id": membership.pk,
        "team_id": team.pk,
        "grant_id": grant.pk,
        "token_id": token.pk,
        "run_id": run.pk,
        "asset_key": "raw_orders",
        "policy_id": policy.pk,
    }


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
    checked = 0
    for route in api_routes():
        if "org" not in route.kwargs:
            continue
        missing = set(route.kwargs) - set(victim)
        assert not missing, f"add a victim object for {missing} ({route.template})"
        urls = {
            "victim org": route.url(victim),
            # Own organization in the URL, the victim's objects after it.
            "own org": route.url({**victim, "org": "globex"}),
        }
        for label, client in attackers.items():
            for where, url in urls.items():
                if where == "own org" and route.kwargs == ["org"]:
                    continue  # that is simply the attacker's own collection
                for method in HTTP_METHODS:  # even those the view lacks: no 405 leak
                    response = getattr(client, method)(
                        url, {"name": "evil", "role": "org_admin"}, format="json"
                    )
                    assert response.status_code == 404, (
                        f"{label} {method.upper()} {url} ({where}) -> {response.status_code}"
                    )
                    checked += 1
    assert checked > 50
    assert database_fingerprint() == before


@pytest.mark.django_db
def test_requests_without_credentials_get_401_and_change_nothing_on_every_endpoint(victim):
    before = database_fingerprint()
    anonymous = APIClient()
    for route in api_routes():
        if route.name in NOT_TENANT_SCOPED and route.name != "org-list":
            continue
        for method in HTTP_METHODS:
            response = getattr(anonymous, method)(route.url(victim), {"name": "x"}, format="json")
            assert response.status_code == 401, f"{method.upper()} {route.template}"
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
