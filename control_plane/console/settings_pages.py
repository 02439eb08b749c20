"""Settings pages of an organization: members and invitations, teams, API tokens.

Thin over ``tenancy.queries``/``tenancy.services`` and ``identity.services`` (the API's
own code): lists are read as the API reads them, every change is authorized and audited
by its service, so a button a role may not use is not offered and a forged POST is
refused anyway (403).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden, NotFound
from control_plane.identity import services as identity_services
from control_plane.identity.models import Invitation
from control_plane.tenancy import queries, services
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action


def _error(request: HttpRequest, exc: AssayError) -> None:
    if isinstance(exc, Forbidden):
        raise PermissionDenied(exc.message) from None
    fields = getattr(exc, "fields", None) or {}
    detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in fields.items())
    messages.error(request, f"{exc.message} {detail}".strip())


@console_view()
def members(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Members and pending invitations; Organization Admins invite."""
    pending = Invitation.objects.filter(status=Invitation.Status.PENDING).order_by("-id")
    return render(
        request,
        "console/members.html",
        {
            "members": list(queries.members().order_by("user__email")),
            "invitations": [i for i in pending if i.is_usable()],
            "can_invite": is_allowed(ctx.principal, Action.MANAGE_MEMBERS, ctx.organization),
        },
    )


@require_POST
@console_view()
def invite(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    email = request.POST.get("email", "")
    try:
        identity_services.invite_member(ctx=ctx, email=email, name=request.POST.get("name", ""))
    except AssayError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Invitation sent to {email.strip()}.")
    return redirect("console:members", org=ctx.organization.slug)


@console_view()
def teams(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Teams with their member counts; Organization Admins create them."""
    if request.method == "POST":
        try:
            team = services.create_team(ctx=ctx, name=request.POST.get("name", "").strip())
        except AssayError as exc:
            _error(request, exc)
        else:
            messages.success(request, f"Team {team.name} created.")
        return redirect("console:teams", org=ctx.organization.slug)
    found = queries.teams().annotate(size=Count("group__user")).order_by("name")
    return render(
        request,
        "console/teams.html",
        {
            "teams": list(found),
            "can_manage": is_allowed(ctx.principal, Action.MANAGE_TEAMS, ctx.organization),
        },
    )


@console_view(None)
def tokens(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """API tokens (one's own; Admins see everyone's). A new token's secret is shown once,
    in the answer to the POST that made it, and never again."""
    secret = ""
    if request.method == "POST":
        try:
            token, secret = services.create_user_token(
                ctx=ctx, name=request.POST.get("name", "").strip()
            )
        except AssayError as exc:
            _error(request, exc)
            return redirect("console:tokens", org=ctx.organization.slug)
        messages.success(request, f"Token {token.name} created.")
    found = queries.tokens_visible_to(ctx.principal, ctx.organization).order_by("-id")
    return render(
        request,
        "console/tokens.html",
        {"tokens": list(found), "secret": secret, "me": ctx.principal.user},
    )


@require_POST
@console_view(None)
def revoke(request: HttpRequest, ctx: ConsoleContext, token_id: int) -> HttpResponse:
    visible = queries.tokens_visible_to(ctx.principal, ctx.organization)
    try:
        token = queries.get_token(queryset=visible, token_id=token_id)
        services.revoke_token(ctx=ctx, token=token)
    except NotFound:
        raise Http404("token not found") from None
    except AssayError as exc:
        _error(request, exc)
    else:
        messages.success(request, f"Token {token.name} revoked.")
    return redirect("console:tokens", org=ctx.organization.slug)
