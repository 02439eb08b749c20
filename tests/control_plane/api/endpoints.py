"""One object of every kind an API URL can name, and the audit action of every mutation.

Tests that walk every endpoint (tenant isolation, one audit row per mutation) take their
URL values and request bodies from here, so a new endpoint is covered the moment it exists
— or the tests fail naming what is missing. An app adds its own without editing this file,
in ``tests/control_plane/<app>/endpoints.py``::

    def build(victim: Victim) -> dict[str, object]:
        '''URL keyword -> value for this app's objects, built in ``victim.ctx``.'''

    MUTATIONS = {("schedule-detail", "patch"): ({"enabled": False}, "schedule.update")}

Bodies may name built values as ``"{keyword}"`` (``{"member_id": "{loner_id}"}``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from control_plane.alerts import services as alert_services
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy import services
from control_plane.tenancy.models import CodeLocation, Deployment, Membership
from control_plane.tenancy.roles import Role
from tests.control_plane.factories import load_location, queue_run

Body = dict[str, Any] | None


@dataclass
class Victim:
    """An organization filled with one object of every kind; ``values`` are URL values."""

    ctx: TenantContext
    deployment: Deployment
    location: CodeLocation
    membership: Membership
    values: dict[str, Any] = field(default_factory=dict)


def _build_tenancy(victim: Victim) -> dict[str, Any]:
    ctx = victim.ctx
    loner = services.add_member(ctx=ctx, email=f"loner@{ctx.organization.slug}.test")
    team = services.create_team(ctx=ctx, name=f"{ctx.organization.slug}-team")
    services.add_team_member(ctx=ctx, team=team, membership=victim.membership)
    grant = services.create_grant(ctx=ctx, role=Role.EDITOR, membership=victim.membership)
    operator = TenantContext(organization=ctx.organization, principal=Principal.system("test"))
    token, _ = services.create_user_token(ctx=operator, name="victim", user=victim.membership.user)
    return {
        "member_id": victim.membership.pk,
        "loner_id": loner.pk,
        "team_id": team.pk,
        "grant_id": grant.pk,
        "token_id": token.pk,
    }


def _build_runs_and_catalog(victim: Victim) -> dict[str, Any]:
    run = queue_run(victim.ctx, location=victim.location, selection="raw_orders")
    return {"run_id": run.pk, "asset_key": "raw_orders"}


def _build_alerts(victim: Victim) -> dict[str, Any]:
    policy = alert_services.create_alert_policy(
        ctx=victim.ctx,
        deployment=victim.deployment,
        name=f"{victim.ctx.organization.slug}-policy",
        kinds=["freshness_violation"],
        emails=[f"oncall@{victim.ctx.organization.slug}.test"],
    )
    return {"policy_id": policy.pk}


MUTATIONS: dict[tuple[str, str], tuple[Body, str]] = {
    ("org-detail", "patch"): ({"name": "Renamed Inc"}, "organization.update"),
    ("deployment-list", "post"): ({"name": "feature-1"}, "deployment.create"),
    ("deployment-detail", "patch"): ({"max_concurrent_runs": 3}, "deployment.update"),
    ("deployment-detail", "delete"): (None, "deployment.delete"),
    ("code-location-list", "post"): ({"name": "new-loc"}, "code_location.create"),
    ("code-location-detail", "patch"): ({"module": "pkg.defs"}, "code_location.update"),
    ("code-location-detail", "delete"): (None, "code_location.delete"),
    ("member-list", "post"): ({"email": "new@example.test"}, "member.invite"),
    ("member-detail", "delete"): (None, "member.remove"),
    ("team-list", "post"): ({"name": "analysts"}, "team.create"),
    ("team-detail", "patch"): ({"name": "renamed"}, "team.update"),
    ("team-detail", "delete"): (None, "team.delete"),
    ("team-member-list", "post"): ({"member_id": "{loner_id}"}, "team.member_add"),
    ("team-member-detail", "delete"): (None, "team.member_remove"),
    ("grant-list", "post"): ({"role": "editor", "member_id": "{loner_id}"}, "grant.create"),
    ("grant-detail", "patch"): ({"role": "launcher"}, "grant.update"),
    ("grant-detail", "delete"): (None, "grant.delete"),
    ("token-list", "post"): ({"name": "new"}, "token.create"),
    ("token-detail", "delete"): (None, "token.revoke"),
    ("run-list", "post"): ({"location": "{location}", "selection": "clean_orders+"}, "run.launch"),
    ("run-terminate", "post"): ({"reason": "no longer needed"}, "run.terminate"),
    ("alert-policy-list", "post"): (
        {"name": "new", "kinds": ["agent_offline"], "emails": ["a@example.test"]},
        "alert_policy.create",
    ),
    ("alert-policy-detail", "patch"): ({"enabled": False}, "alert_policy.update"),
    ("alert-policy-detail", "delete"): (None, "alert_policy.delete"),
}


def app_modules() -> list[ModuleType]:
    """Every ``tests/control_plane/<app>/endpoints.py`` other than this one."""
    here = Path(__file__).resolve()
    found = sorted(here.parents[1].glob("*/endpoints.py"))
    return [
        importlib.import_module(f"tests.control_plane.{path.parent.name}.endpoints")
        for path in found
        if path != here
    ]


def builders() -> list[Callable[[Victim], dict[str, Any]]]:
    extra = [module.build for module in app_modules() if hasattr(module, "build")]
    return [_build_tenancy, _build_runs_and_catalog, _build_alerts, *extra]


def all_mutations() -> dict[tuple[str, str], tuple[Body, str]]:
    table = dict(MUTATIONS)
    for module in app_modules():
        table.update(getattr(module, "MUTATIONS", {}))
    return table


def build_victim(ctx: TenantContext) -> Victim:
    """Fill ``ctx``'s organization with one object of every kind; names are prefixed with
    its slug so no other organization shares them."""
    slug = ctx.organization.slug
    with tenant_context(ctx):
        deployment = services.create_deployment(ctx=ctx, name=f"{slug}-only")
        services.create_code_location(ctx=ctx, deployment=deployment, name=f"{slug}-loc")
        location = load_location(ctx, deployment=deployment, name=f"{slug}-loc")
        membership = services.add_member(ctx=ctx, email=f"victim@{slug}.test")
        victim = Victim(ctx, deployment, location, membership)
        victim.values = {"org": slug, "deployment": deployment.name, "location": location.name}
        for build in builders():
            victim.values.update(build(victim))
    return victim


def body_for(body: Body, values: dict[str, Any]) -> Body:
    """``body`` with ``"{keyword}"`` strings replaced by the built values."""

    def fill(value: Any) -> Any:
        if isinstance(value, str) and value.startswith("{") and value.endswith("}"):
            return values[value[1:-1]]
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return value

    return fill(body)
