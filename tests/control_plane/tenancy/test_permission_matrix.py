"""Each role may do exactly the actions the product documents, at every scope."""

from __future__ import annotations

from pathlib import Path

import pytest

from control_plane.core.context import Principal, tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import User
from control_plane.tenancy.permissions import effective_role, is_allowed
from control_plane.tenancy.roles import Action, Role, render_matrix_markdown

A = Action
VIEWER = {A.VIEW}
LAUNCHER = VIEWER | {A.LAUNCH_RUN, A.TERMINATE_RUN, A.LAUNCH_BACKFILL}
EDITOR = LAUNCHER | {
    A.EDIT_SCHEDULE,
    A.EDIT_SENSOR,
    A.EDIT_AUTOMATION,
    A.MANAGE_ALERTS,
    A.MANAGE_CODE_LOCATION,
}
ADMIN = EDITOR | {A.MANAGE_DEPLOYMENT, A.MANAGE_TOKENS, A.MANAGE_GRANTS, A.VIEW_AUDIT}
ORG_ADMIN = set(Action)
# Written out from the product specification, independently of control_plane.tenancy.roles.
DOCUMENTED = {
    Role.VIEWER: VIEWER,
    Role.LAUNCHER: LAUNCHER,
    Role.EDITOR: EDITOR,
    Role.ADMIN: ADMIN,
    Role.ORG_ADMIN: ORG_ADMIN,
}


@pytest.fixture
def world(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = services.create_deployment(ctx=ctx, name="staging")
        other = services.create_deployment(ctx=ctx, name="other")
        location = services.create_code_location(ctx=ctx, deployment=prod, name="analytics")
        sibling = services.create_code_location(ctx=ctx, deployment=prod, name="finance")
    return acme, prod, other, location, sibling


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.slug)
def test_organization_wide_role_allows_exactly_the_documented_actions(world, role):
    acme, deployment, _, location, _ = world
    user, _ = acme.member_with_role(role)
    principal = Principal.for_user(user)
    for obj in (acme.organization, deployment, location):
        allowed = {action for action in Action if is_allowed(principal, action, obj)}
        assert allowed == DOCUMENTED[role], f"{role.label} on {obj}"
    assert effective_role(principal, location) is role


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ORG_ADMIN], ids=lambda r: r.slug)
def test_deployment_role_covers_its_code_locations_and_nothing_else(world, role):
    acme, deployment, other, location, _ = world
    user, _ = acme.member_with_role(role, scope=deployment)
    principal = Principal.for_user(user)
    for action in Action:
        assert is_allowed(principal, action, deployment) == (action in DOCUMENTED[role])
        assert is_allowed(principal, action, location) == (action in DOCUMENTED[role])
        assert not is_allowed(principal, action, other)
        assert not is_allowed(principal, action, acme.organization)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ORG_ADMIN], ids=lambda r: r.slug)
def test_code_location_role_covers_only_that_code_location(world, role):
    acme, deployment, _, location, sibling = world
    user, _ = acme.member_with_role(role, scope=location)
    principal = Principal.for_user(user)
    for action in Action:
        assert is_allowed(principal, action, location) == (action in DOCUMENTED[role])
        assert not is_allowed(principal, action, sibling)
        assert not is_allowed(principal, action, deployment)


def test_effective_role_is_the_highest_grant_that_covers_the_object(world):
    acme, deployment, _, location, _ = world
    membership = acme.member()
    ctx = acme.ctx()
    with tenant_context(ctx):
        services.create_grant(ctx=ctx, role=Role.VIEWER, membership=membership)
        services.create_grant(
            ctx=ctx, role=Role.EDITOR, membership=membership, deployment=deployment
        )
        services.create_grant(
            ctx=ctx, role=Role.LAUNCHER, membership=membership, code_location=location
        )
    principal = Principal.for_user(User.objects.get(pk=membership.user_id))
    assert effective_role(principal, acme.organization) is Role.VIEWER
    assert effective_role(principal, deployment) is Role.EDITOR
    assert effective_role(principal, location) is Role.EDITOR


def test_effective_role_combines_direct_and_team_grants_taking_the_highest(world):
    acme, deployment, _, location, _ = world
    membership = acme.member()
    ctx = acme.ctx()
    with tenant_context(ctx):
        team = services.create_team(ctx=ctx, name="platform")
        services.add_team_member(ctx=ctx, team=team, membership=membership)
        services.create_grant(ctx=ctx, role=Role.VIEWER, membership=membership)
        services.create_grant(ctx=ctx, role=Role.ADMIN, team=team, deployment=deployment)
    principal = Principal.for_user(User.objects.get(pk=membership.user_id))
    assert effective_role(principal, acme.organization) is Role.VIEWER
    assert effective_role(principal, location) is Role.ADMIN
    with tenant_context(ctx):
        services.delete_team(ctx=ctx, team=team)
    principal = Principal.for_user(User.objects.get(pk=membership.user_id))
    assert effective_role(principal, location) is Role.VIEWER


def test_member_without_any_grant_has_no_role_anywhere(world):
    acme, deployment, _, location, _ = world
    principal = Principal.for_user(User.objects.get(pk=acme.member().user_id))
    for obj in (acme.organization, deployment, location):
        assert effective_role(principal, obj) is None
        assert not any(is_allowed(principal, action, obj) for action in Action)


def test_team_grant_applies_to_its_members_and_stops_when_they_leave(world):
    acme, deployment, _, location, _ = world
    membership = acme.member()
    ctx = acme.ctx()
    with tenant_context(ctx):
        team = services.create_team(ctx=ctx, name="data")
        services.add_team_member(ctx=ctx, team=team, membership=membership)
        services.create_grant(ctx=ctx, role=Role.LAUNCHER, team=team, deployment=deployment)
    user = User.objects.get(pk=membership.user_id)
    assert is_allowed(Principal.for_user(user), Action.LAUNCH_RUN, location)
    assert not is_allowed(Principal.for_user(user), Action.EDIT_SCHEDULE, location)
    with tenant_context(ctx):
        services.remove_team_member(ctx=ctx, team=team, membership=membership)
    user = User.objects.get(pk=membership.user_id)
    assert not is_allowed(Principal.for_user(user), Action.VIEW, location)


def test_revoked_grant_removes_every_permission(world):
    acme, deployment, *_ = world
    membership = acme.member()
    ctx = acme.ctx()
    with tenant_context(ctx):
        grant = services.create_grant(ctx=ctx, role=Role.ADMIN, membership=membership)
        services.delete_grant(ctx=ctx, grant=grant)
    principal = Principal.for_user(User.objects.get(pk=membership.user_id))
    assert not any(is_allowed(principal, a, deployment) for a in Action)


def test_narrowed_user_token_is_capped_at_its_role_and_deployment(world):
    acme, deployment, other, location, _ = world
    ctx = acme.ctx()
    with tenant_context(ctx):
        token, _ = services.create_user_token(
            ctx=ctx, name="ci", deployment=deployment, max_role=Role.LAUNCHER
        )
    principal = Principal.for_user(acme.admin, token=token)
    assert is_allowed(principal, Action.LAUNCH_RUN, location)
    assert not is_allowed(principal, Action.MANAGE_CODE_LOCATION, location)
    assert not is_allowed(principal, Action.VIEW, other)
    assert not is_allowed(principal, Action.MANAGE_MEMBERS, acme.organization)


def test_agent_principal_has_no_role_in_the_rest_api(world):
    _acme, deployment, *_ = world
    assert not is_allowed(Principal(kind="agent"), Action.VIEW, deployment)


def test_admin_cannot_grant_organization_admin(world):
    acme = world[0]
    _, token = acme.member_with_role(Role.ADMIN)
    target = acme.member()
    response = acme.client(token).post(
        "/api/v1/orgs/acme/grants/", {"role": "org_admin", "member_id": target.pk}, format="json"
    )
    assert response.status_code == 403
    response = acme.client(token).post(
        "/api/v1/orgs/acme/grants/", {"role": "editor", "member_id": target.pk}, format="json"
    )
    assert response.status_code == 201


def test_organization_admin_cannot_be_granted_below_organization_scope(world):
    acme = world[0]
    target = acme.member()
    response = acme.client().post(
        "/api/v1/orgs/acme/grants/",
        {"role": "org_admin", "member_id": target.pk, "deployment": "staging"},
        format="json",
    )
    assert response.status_code == 400
    assert "role" in response.json()["errors"]


def test_permissions_doc_shows_the_matrix_from_the_code():
    doc = Path(__file__).resolve().parents[3] / "docs" / "permissions.md"
    assert render_matrix_markdown() in doc.read_text()


def test_only_the_permissions_module_imports_django_guardian():
    """Callers go through ``authorize``; guardian stays an implementation detail."""
    import ast

    root = Path(__file__).resolve().parents[3]
    allowed = {root / "control_plane" / "tenancy" / "permissions.py"}
    offenders = []
    for package in ("control_plane", "billing"):
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" in path.parts or path in allowed:
                continue
            for node in ast.walk(ast.parse(path.read_text())):
                names = (
                    [node.module or ""]
                    if isinstance(node, ast.ImportFrom)
                    else [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else []
                )
                if any(name == "guardian" or name.startswith("guardian.") for name in names):
                    offenders.append(str(path.relative_to(root)))
    assert offenders == []


def test_django_superuser_flag_grants_nothing_only_roles_do(world):
    """``createsuperuser`` makes a flag guardian would honour everywhere; ours ignores it."""
    acme, deployment, other, location, _ = world
    user, token = acme.member_with_role(Role.VIEWER, scope=deployment)
    user.is_superuser = True
    user.save(update_fields=["is_superuser"])
    principal = Principal.for_user(User.objects.get(pk=user.pk))
    assert is_allowed(principal, Action.VIEW, location)
    assert not is_allowed(principal, Action.LAUNCH_RUN, location)
    assert not is_allowed(principal, Action.VIEW, other)
    assert not is_allowed(principal, Action.MANAGE_MEMBERS, acme.organization)
    listed = acme.client(token).get("/api/v1/orgs/acme/deployments/").json()["results"]
    assert [d["name"] for d in listed] == [deployment.name]
