"""Every tenancy and audit endpoint allows exactly the roles the permission matrix documents.

For each endpoint and method: the role one step below the documented minimum is refused
and the minimum succeeds (the full role x action x scope matrix is checked directly on
``authorize`` in ``tests/control_plane/tenancy/test_permission_matrix.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from control_plane.core.context import Principal, tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.roles import Action, Role
from tests.control_plane.api.database import database_fingerprint
from tests.control_plane.api.routes import api_routes
from tests.control_plane.tenancy.test_permission_matrix import DOCUMENTED

A = Action


@dataclass(frozen=True)
class Case:
    route: str
    method: str
    action: Action | None  # None: any member
    body: dict[str, Any] | None = None
    denied: str = "403"  # or "404" (the object is not visible), "empty" (a filtered list)

    def __str__(self) -> str:
        kind = f"-{self.body['kind']}" if self.body and "kind" in self.body else ""
        return f"{self.method.upper()} {self.route}{kind}"


CASES = [
    Case("org-detail", "get", None),
    Case("org-detail", "patch", A.MANAGE_MEMBERS, {"name": "Renamed"}),
    Case("deployment-list", "get", A.VIEW, denied="empty"),
    Case("deployment-list", "post", A.MANAGE_DEPLOYMENT, {"name": "feature"}),
    Case("deployment-detail", "get", A.VIEW),
    Case("deployment-detail", "patch", A.MANAGE_DEPLOYMENT, {"max_concurrent_runs": 3}),
    Case("deployment-detail", "delete", A.MANAGE_DEPLOYMENT),
    Case("code-location-list", "get", A.VIEW, denied="empty"),
    Case("code-location-list", "post", A.MANAGE_CODE_LOCATION, {"name": "new-loc"}),
    Case("code-location-detail", "get", A.VIEW),
    Case("code-location-detail", "patch", A.MANAGE_CODE_LOCATION, {"module": "pkg.defs"}),
    Case("code-location-detail", "delete", A.MANAGE_CODE_LOCATION),
    Case("member-list", "get", A.VIEW),
    Case("member-list", "post", A.MANAGE_MEMBERS, {"email": "new@acme.test"}),
    Case("member-detail", "get", A.VIEW),
    Case("member-detail", "delete", A.MANAGE_MEMBERS),
    Case("team-list", "get", A.VIEW),
    Case("team-list", "post", A.MANAGE_TEAMS, {"name": "analysts"}),
    Case("team-detail", "get", A.VIEW),
    Case("team-detail", "patch", A.MANAGE_TEAMS, {"name": "renamed"}),
    Case("team-detail", "delete", A.MANAGE_TEAMS),
    Case("team-member-list", "get", A.VIEW),
    Case("team-member-list", "post", A.MANAGE_TEAMS, {"member_id": "{loner_id}"}),
    Case("team-member-detail", "delete", A.MANAGE_TEAMS),
    Case("grant-list", "get", A.VIEW),
    Case("grant-list", "post", A.MANAGE_GRANTS, {"role": "viewer", "member_id": "{loner_id}"}),
    Case("grant-detail", "get", A.VIEW),
    Case("grant-detail", "patch", A.MANAGE_GRANTS, {"role": "launcher"}),
    Case("grant-detail", "delete", A.MANAGE_GRANTS),
    Case("token-list", "get", None),
    Case("token-list", "post", None, {"name": "mine"}),
    Case(
        "token-list",
        "post",
        A.MANAGE_TOKENS,
        {"name": "agent", "kind": "agent", "deployments": ["staging"]},
    ),
    Case("token-detail", "get", A.MANAGE_TOKENS, denied="404"),  # someone else's token
    Case("token-detail", "delete", A.MANAGE_TOKENS, denied="404"),
    Case("audit-list", "get", A.VIEW_AUDIT),
    Case("audit-export", "get", A.VIEW_AUDIT),
]


def minimum_role(action: Action | None) -> Role | None:
    """The lowest role the documented matrix allows ``action`` (None: no role needed)."""
    if action is None:
        return None
    return min(role for role, actions in DOCUMENTED.items() if action in actions)


def role_below(role: Role | None) -> Role | None:
    lower = [r for r in Role if role is not None and r < role]
    return max(lower) if lower else None


def test_every_tenancy_and_audit_endpoint_has_a_case():
    ours = {
        (route.name, method)
        for route in api_routes()
        for method in route.methods
        if route.name not in {"schema", "docs", "org-list"}
        and getattr(route.callback, "view_class", object).__module__.startswith(
            ("control_plane.tenancy.", "control_plane.audit.")
        )
    }
    assert ours - {(c.route, c.method) for c in CASES} == set()


@pytest.fixture
def world(acme):
    """acme with a deployment, a location and a target member, team, grant and token."""
    ctx = acme.ctx()
    with tenant_context(ctx):
        deployment = services.create_deployment(ctx=ctx, name="staging")
        services.create_code_location(ctx=ctx, deployment=deployment, name="analytics")
        target = services.add_member(ctx=ctx, email="target@acme.test")
        loner = services.add_member(ctx=ctx, email="loner@acme.test")
        team = services.create_team(ctx=ctx, name="data")
        services.add_team_member(ctx=ctx, team=team, membership=target)
        grant = services.create_grant(ctx=ctx, role=Role.VIEWER, membership=target)
        operator = acme.ctx(Principal.system("test"))
        token, _ = services.create_user_token(ctx=operator, name="theirs", user=target.user)
    return acme, {
        "org": "acme",
        "deployment": "staging",
        "location": "analytics",
        "member_id": target.pk,
        "loner_id": loner.pk,
        "team_id": team.pk,
        "grant_id": grant.pk,
        "token_id": token.pk,
    }


def _call(world, case: Case, role: Role | None):
    acme, values = world
    _user, token = acme.member_with_role(role)
    route = next(r for r in api_routes() if r.name == case.route)
    body = {
        k: values[v[1:-1]] if isinstance(v, str) and v.startswith("{") else v
        for k, v in (case.body or {}).items()
    }
    client = acme.client(token)
    client.get("/api/v1/orgs/acme/")  # settle the token's last-used time
    before = database_fingerprint()
    response = getattr(client, case.method)(route.url(values), body or None, format="json")
    return response, before


@pytest.mark.parametrize("case", CASES, ids=str)
def test_the_documented_minimum_role_may(world, case):
    role = minimum_role(case.action)
    response, _ = _call(world, case, role)
    assert response.status_code in (200, 201, 204), (role, response.content)
    if case.denied == "empty":
        assert response.json()["results"], "the minimum role sees the objects"


@pytest.mark.parametrize("case", [c for c in CASES if minimum_role(c.action) is not None], ids=str)
def test_one_role_below_the_documented_minimum_may_not_and_nothing_changes(world, case):
    role = role_below(minimum_role(case.action))
    response, before = _call(world, case, role)
    if case.denied == "empty":
        assert response.status_code == 200 and response.json()["results"] == []
    else:
        assert response.status_code == int(case.denied), (role, response.content)
    assert database_fingerprint() == before
