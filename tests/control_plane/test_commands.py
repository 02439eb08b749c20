"""Operators' management commands: bootstrap an install, create tokens."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from control_plane.audit.services import verify_chain
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy.models import ApiToken, Organization


def _run(*args, **kwargs) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO(), **kwargs)
    return out.getvalue().strip()


def _client(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


@pytest.mark.django_db
def test_bootstrap_creates_org_prod_deployment_and_org_admin_and_prints_a_token():
    token = _run("bootstrap", org="acme", email="Ops@Acme.test")
    assert token.startswith("assay_u_")
    client = _client(token)
    assert client.get("/api/v1/orgs/acme/deployments/prod/").status_code == 200
    assert (
        client.post("/api/v1/orgs/acme/members/", {"email": "b@x.test"}, format="json").status_code
        == 201
    )
    assert verify_chain(organization=Organization.objects.get(slug="acme")).ok


@pytest.mark.django_db
def test_bootstrap_again_for_the_same_admin_prints_a_new_token_only():
    first = _run("bootstrap", org="acme", email="ops@acme.test")
    second = _run("bootstrap", org="acme", email="OPS@acme.test", token_name="again")
    assert first != second
    assert Organization.objects.count() == 1
    assert ApiToken.objects.unscoped().count() == 2


@pytest.mark.django_db
def test_bootstrap_refuses_an_existing_org_for_someone_else():
    _run("bootstrap", org="acme", email="ops@acme.test")
    with pytest.raises(CommandError, match="not its Org Admin"):
        _run("bootstrap", org="acme", email="intruder@evil.test")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("org", "email", "name", "field"),
    [
        ("Not A Slug", "a@b.test", None, "slug"),
        ("Acme", "a@b.test", None, "slug"),  # "Acme" and "acme" would be two tenants
        ("under_score", "a@b.test", None, "slug"),
        ("a" * 41, "a@b.test", None, "slug"),
        ("ok", "nope", None, "admin_email"),
        ("ok", "a@b.test", "n" * 201, "name"),
    ],
)
def test_bootstrap_rejects_bad_input_naming_the_field_and_writes_nothing(org, email, name, field):
    with pytest.raises(CommandError, match=f"invalid input: .*{field}: "):
        _run("bootstrap", org=org, email=email, name=name)
    assert not Organization.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", "n" * 101])
def test_create_token_rejects_a_bad_name_without_a_traceback(name):
    _run("bootstrap", org="acme", email="ops@acme.test")
    with pytest.raises(CommandError, match="invalid input: name: "):
        _run("create_token", org="acme", name=name, agent=True)
    with pytest.raises(CommandError, match="invalid input: name: "):
        _run("create_token", org="acme", name=name, user="ops@acme.test")
    assert ApiToken.objects.unscoped().count() == 1


@pytest.mark.django_db
def test_create_token_for_an_agent_and_for_a_narrowed_user():
    _run("bootstrap", org="acme", email="ops@acme.test")
    agent = _run("create_token", org="acme", name="agent-1", agent=True)
    assert agent.startswith("assay_a_")
    row = ApiToken.objects.unscoped().get(name="agent-1")
    ctx = TenantContext(organization=row.organization, principal=Principal.system())
    with tenant_context(ctx):
        assert [d.name for d in row.deployments.all()] == ["prod"]
    user = _run(
        "create_token",
        org="acme",
        name="ci",
        user="ops@acme.test",
        deployment=["prod"],
        max_role="viewer",
    )
    client = _client(user)
    assert client.get("/api/v1/orgs/acme/deployments/prod/").status_code == 200
    response = client.post("/api/v1/orgs/acme/deployments/", {"name": "x"}, format="json")
    assert response.status_code == 403


@pytest.mark.django_db
def test_create_token_explains_unknown_organization_and_user():
    with pytest.raises(CommandError, match="no organization"):
        _run("create_token", org="nope", name="x", agent=True)
    _run("bootstrap", org="acme", email="ops@acme.test")
    with pytest.raises(CommandError, match="no user"):
        _run("create_token", org="acme", name="x", user="ghost@acme.test")
    with pytest.raises(CommandError, match="deployment not found"):
        _run("create_token", org="acme", name="x", agent=True, deployment=["ghost"])
