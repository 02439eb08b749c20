"""The Grants page: who holds which role where (organization, deployment, code location),
granting a role to a member or team, changing and revoking it.

Thin over ``tenancy.queries.grants`` and ``tenancy.services.create_grant/update_grant/
delete_grant`` (the API's code): they authorize (``manage_grants`` on the scope and no
escalation past one's own role), keep an Organization Admin, and audit. The form offers
only the roles and scopes the principal may grant, and a revoke button only on grants it
may revoke; a forged POST is refused by the service (403).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden, InvalidInput, NotFound
from control_plane.tenancy import queries, services
from control_plane.tenancy.models import CodeLocation, Deployment, Membership, RoleGrant, Team
from control_plane.tenancy.permissions import is_allowed, is_allowed_role
from control_plane.tenancy.roles import GRANTABLE_SCOPES, Action, Role


@dataclass(frozen=True)
class Scope:
    """One place a role can be granted, as the form names it (``deployment:<id>``)."""

    value: str
    label: str
    kind: str  # organization | deployment | code_location
    target: Any


def _scopes(ctx: ConsoleContext) -> list[Scope]:
    scopes = [
        Scope(
            "organization",
            f"organization {ctx.organization.name}",
            "organization",
            ctx.organization,
        )
    ]
    deployments = queries.deployments_visible_to(ctx.principal, ctx.organization).order_by("name")
    for deployment in deployments:
        scopes.append(
            Scope(
                f"deployment:{deployment.pk}",
                f"deployment {deployment.name}",
                "deployment",
                deployment,
            )
        )
        locations = CodeLocation.objects.filter(deployment=deployment).order_by("name")
        for location in locations:
            scopes.append(
                Scope(
                    f"location:{location.pk}",
                    f"code location {deployment.name} / {location.name}",
                    "code_location",
                    location,
                )
            )
    return scopes


def _may_grant(ctx: ConsoleContext, role: Role, scope: Scope) -> bool:
    return (
        scope.kind in GRANTABLE_SCOPES[role]
        and is_allowed(ctx.principal, Action.MANAGE_GRANTS, scope.target)
        and is_allowed_role(ctx.principal, role, scope.target)
    )


def _scope_label(grant: RoleGrant) -> str:
    if grant.code_location is not None:
        return f"code location {grant.code_location.deployment.name} / {grant.code_location.name}"
    if grant.deployment is not None:
        return f"deployment {grant.deployment.name}"
    return "whole organization"


@console_view()
def grants(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    scopes = _scopes(ctx)
    grantable = [s for s in scopes if any(_may_grant(ctx, r, s) for r in Role)]
    roles = [r for r in Role if any(_may_grant(ctx, r, s) for s in grantable)]
    found = queries.grants().order_by("scope_key", "role", "id")
    rows = []
    for grant in found:
        scope_obj = grant.code_location or grant.deployment or grant.organization
        may = is_allowed(ctx.principal, Action.MANAGE_GRANTS, scope_obj) and is_allowed_role(
            ctx.principal, Role(grant.role), scope_obj
        )
        rows.append(
            {
                "grant": grant,
                "role": Role(grant.role),
                "grantee": grant.user.email if grant.user else f"team {grant.team.name}",  # type: ignore[union-attr]
                "scope": _scope_label(grant),
                "can_revoke": may,
                "roles": [
                    r
                    for r in Role
                    if may
                    and grant.scope in GRANTABLE_SCOPES[r]
                    and is_allowed_role(ctx.principal, r, scope_obj)
                ],
            }
        )
    return render(
        request,
        "console/grants.html",
        {
            "rows": rows,
            "scopes": grantable,
            "roles": roles,
            "members": list(queries.members().select_related("user").order_by("user__email"))
            if grantable
            else [],
            "teams": list(queries.teams().order_by("name")) if grantable else [],
        },
    )


def _back(ctx: ConsoleContext) -> HttpResponse:
    return redirect("console:grants", org=ctx.organization.slug)


def _fail(request: HttpRequest, exc: AssayError) -> None:
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from None
    fields = getattr(exc, "fields", None) or {}
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    messages.error(request, f"{exc.message} {detail}".strip())


def _role(value: str) -> Role:
    try:
        return Role.from_slug(value)
    except ValueError:
        raise InvalidInput(f"unknown role {value!r}") from None


def _grantee(value: str) -> tuple[Membership | None, Team | None]:
    kind, _, ident = value.partition(":")
    if not ident.isdigit():
        raise InvalidInput("choose a member or a team")
    if kind == "member":
        return queries.get_membership(membership_id=int(ident)), None
    if kind == "team":
        return None, queries.get_team(team_id=int(ident))
    raise InvalidInput("choose a member or a team")


def _scope(value: str) -> tuple[Deployment | None, CodeLocation | None]:
    if value == "organization":
        return None, None
    kind, _, ident = value.partition(":")
    if ident.isdigit() and kind == "deployment":
        deployment = Deployment.objects.filter(pk=int(ident)).first()
        if deployment is not None:
            return deployment, None
    if ident.isdigit() and kind == "location":
        location = CodeLocation.objects.select_related("deployment").filter(pk=int(ident)).first()
        if location is not None:
            return location.deployment, location
    raise InvalidInput("choose where the role applies")


@require_POST
@console_view()
def grant_create(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Grant ``role`` to ``grantee`` (``member:<id>``/``team:<id>``) on ``scope``."""
    try:
        role = _role(request.POST.get("role", ""))
        membership, team = _grantee(request.POST.get("grantee", ""))
        deployment, location = _scope(request.POST.get("scope", ""))
        grant = services.create_grant(
            ctx=ctx,
            role=role,
            membership=membership,
            team=team,
            deployment=deployment,
            code_location=location,
        )
    except NotFound:
        messages.error(request, "That member, team or scope does not exist.")
    except AssayError as exc:
        _fail(request, exc)
    else:
        messages.success(request, f"Granted {role.label}: {_scope_label(grant)}.")
    return _back(ctx)


def _get(grant_id: int) -> RoleGrant:
    try:
        return queries.get_grant(grant_id=grant_id)
    except NotFound:
        raise Http404("grant not found") from None


@require_POST
@console_view()
def grant_update(request: HttpRequest, ctx: ConsoleContext, grant_id: int) -> HttpResponse:
    grant = _get(grant_id)
    try:
        role = _role(request.POST.get("role", ""))
        services.update_grant(ctx=ctx, grant=grant, role=role)
    except AssayError as exc:
        _fail(request, exc)
    else:
        messages.success(request, f"Role changed to {role.label}.")
    return _back(ctx)


@require_POST
@console_view()
def grant_revoke(request: HttpRequest, ctx: ConsoleContext, grant_id: int) -> HttpResponse:
    grant = _get(grant_id)
    try:
        services.delete_grant(ctx=ctx, grant=grant)
    except AssayError as exc:
        _fail(request, exc)
    else:
        messages.success(request, f"Revoked {Role(grant.role).label}: {_scope_label(grant)}.")
    return _back(ctx)
