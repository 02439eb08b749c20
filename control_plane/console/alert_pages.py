"""The Alerts page: a deployment's alert policies and its incidents.

Reads through ``alerts.queries``; enabling or disabling a policy goes through
``alerts.services.update_alert_policy`` (Editor role, audited). Policies and incidents
are about the whole deployment, so a member granted only some of its code locations is
told so instead of being shown them.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.alerts import queries, services
from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden, NotFound
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action

INCIDENTS_SHOWN = 50


@console_view()
def alerts(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    deployment = ctx.deployment_required
    whole = ctx.locations is None
    return render(
        request,
        "console/alerts.html",
        {
            "whole_deployment": whole,
            "policies": list(queries.policies_of(deployment=deployment).order_by("name"))
            if whole
            else [],
            "incidents": list(
                queries.incidents_of(deployment=deployment).order_by("-opened_at")[:INCIDENTS_SHOWN]
            )
            if whole
            else [],
            "can_manage": is_allowed(ctx.principal, Action.MANAGE_ALERTS, deployment),
        },
    )


@require_POST
@console_view()
def policy_toggle(request: HttpRequest, ctx: ConsoleContext, policy_id: int) -> HttpResponse:
    """Enable or disable one policy (``enabled`` posted as ``true``/``false``)."""
    deployment = ctx.deployment_required
    try:
        policy = queries.get_policy(deployment=deployment, policy_id=policy_id)
        services.update_alert_policy(
            ctx=ctx, policy=policy, enabled=request.POST.get("enabled") == "true"
        )
    except NotFound:
        raise Http404("alert policy not found") from None
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except AssayError as exc:
        messages.error(request, exc.message)
    return redirect("console:alerts", org=ctx.organization.slug, deployment=deployment.name)
