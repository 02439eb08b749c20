"""Teams with default roles per deployment kind: members inherit them, new deployments get
them, an explicit team grant beats them, the highest of direct and team grants wins."""

from __future__ import annotations

import pytest
from django.test import Client

from control_plane.audit.models import AuditEvent
from control_plane.core.context import Principal, tenant_context
from control_plane.sso import team_roles
from control_plane.tenancy import services as tenancy
from control_plane.tenancy.errors import NotAllowed
from control_plane.tenancy.models import Deployment, Membership, RoleGrant, User
from control_plane.tenancy.permissions import effective_role
from control_plane.tenancy.roles import Role
from tests.control_plane.sso.conftest import admin_ctx

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(orgs):
    acme, _ = orgs
    ctx = admin_ctx(acme)
    with tenant_context(ctx):
        team = tenancy.create_team(ctx=ctx, name="data-eng")
        membership = tenancy.add_member(ctx=ctx, email="ada@acme.test")
        tenancy.add_team_member(ctx=ctx, team=team, membership=membership)
        branch = tenancy.create_deployment(ctx=ctx, name="feature-x")
    return ctx, team, membership.user, branch


def role_on(ctx, user: User, deployment) -> Role | None:
    with tenant_context(ctx):
        return effective_role(Principal.for_user(user), deployment)


def test_members_inherit_the_default_of_each_deployment_kind(setup):
    ctx, team, ada, branch = setup
    with tenant_context(ctx):
        prod = Deployment.objects.get(kind="prod")
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="prod", role=Role.VIEWER)
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="branch", role=Role.EDITOR)
    assert role_on(ctx, ada, prod) == Role.VIEWER
    assert role_on(ctx, ada, branch) == Role.EDITOR
    assert role_on(ctx, ada, ctx.organization) is None  # nothing organization-wide

    with tenant_context(ctx):  # a deployment made later gets the default too
        later = tenancy.create_deployment(ctx=ctx, name="feature-y")
    assert role_on(ctx, ada, later) == Role.EDITOR

    with tenant_context(ctx):  # and removing the default takes it away everywhere
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="branch", role=None)
        assert team_roles.default_roles(team) == {"prod": Role.VIEWER, "branch": None}
    assert role_on(ctx, ada, branch) is None and role_on(ctx, ada, later) is None
    audits = AuditEvent.objects.unscoped().filter(action="team.default_role_set")
    assert [(e.before["role"], e.after["role"]) for e in audits.order_by("seq")] == [
        (None, "viewer"),
        (None, "editor"),
        ("editor", None),
    ]


def test_an_explicit_team_grant_beats_the_default(setup):
    ctx, team, ada, branch = setup
    with tenant_context(ctx):
        explicit = tenancy.create_grant(ctx=ctx, role=Role.VIEWER, team=team, deployment=branch)
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="branch", role=Role.EDITOR)
        other = tenancy.create_deployment(ctx=ctx, name="feature-y")
    assert role_on(ctx, ada, branch) == Role.VIEWER  # the explicit grant stays
    assert role_on(ctx, ada, other) == Role.EDITOR
    with tenant_context(ctx):
        # someone changes the default grant on `other` by hand: explicit from then on
        by_hand = RoleGrant.objects.get(team=team, deployment=other)
        tenancy.update_grant(ctx=ctx, grant=by_hand, role=Role.LAUNCHER)
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="branch", role=Role.ADMIN)
        explicit.refresh_from_db()
        assert explicit.role == Role.VIEWER
    assert role_on(ctx, ada, other) == Role.LAUNCHER


def test_the_highest_of_direct_and_team_grants_wins(setup):
    ctx, team, ada, branch = setup
    with tenant_context(ctx):
        team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="branch", role=Role.VIEWER)
        membership = Membership.objects.get(user=ada)
        tenancy.create_grant(ctx=ctx, role=Role.LAUNCHER, membership=membership, deployment=branch)
    assert role_on(ctx, ada, branch) == Role.LAUNCHER


def test_setting_defaults_needs_manage_teams_and_no_escalation(setup):
    ctx, team, ada, _ = setup
    with tenant_context(ctx):
        with pytest.raises(NotAllowed):
            team_roles.set_default_role(
                ctx=type(ctx)(organization=ctx.organization, principal=Principal.for_user(ada)),
                team=team,
                deployment_kind="prod",
                role=Role.VIEWER,
            )
        with pytest.raises(team_roles.InvalidInput):
            team_roles.set_default_role(
                ctx=ctx, team=team, deployment_kind="prod", role=Role.ORG_ADMIN
            )
        with pytest.raises(team_roles.InvalidInput):
            team_roles.set_default_role(ctx=ctx, team=team, deployment_kind="qa", role=Role.VIEWER)
    assert not AuditEvent.objects.unscoped().filter(action="team.default_role_set").exists()


def test_the_api_endpoint(setup, orgs):
    ctx, team, ada, branch = setup
    admin = User.objects.get(email="admin@acme.test")
    client = Client()
    client.force_login(admin)
    url = f"/api/v1/orgs/acme/teams/{team.pk}/default-roles/"
    assert client.get(url).json() == {"prod": None, "branch": None}
    answer = client.put(
        url, {"prod": "viewer", "branch": "editor"}, content_type="application/json"
    )
    assert answer.status_code == 200, answer.content
    assert answer.json() == {"prod": "viewer", "branch": "editor"}
    assert role_on(ctx, ada, branch) == Role.EDITOR
    bad = client.put(url, {"prod": "emperor"}, content_type="application/json")
    assert bad.status_code == 400
    assert (
        client.put(url, {"prod": "organization_admin"}, content_type="application/json").status_code
        == 400
    )
    assert client.get(url).json() == {"prod": "viewer", "branch": "editor"}  # nothing half-written
    # another organization's team is not there
    globex_admin = User.objects.get(email="admin@globex.test")
    other = Client()
    other.force_login(globex_admin)
    assert other.get(f"/api/v1/orgs/globex/teams/{team.pk}/default-roles/").status_code == 404
    # a member without manage_teams may read but not change
    reader = Client()
    reader.force_login(ada)
    assert reader.put(url, {"prod": "admin"}, content_type="application/json").status_code == 403
