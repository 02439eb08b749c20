"""The Automation page: schedules, sensors and declarative automation of a deployment.

Reads through ``automation.queries`` (the API's reads); turning a schedule, a sensor or
declarative automation on or off goes through ``automation.services`` /
``automation_settings``, which authorize (Editor on the code location or deployment) and
audit, so a forged POST is refused there too.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.automation import automation_settings, queries, services
from control_plane.automation.models import AutomationEvaluation, InstigatorKind, InstigatorState
from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden
from control_plane.tenancy.models import CodeLocation
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action

EVALUATIONS_SHOWN = 25
EDIT: dict[str, Action] = {
    InstigatorKind.SCHEDULE: Action.EDIT_SCHEDULE,
    InstigatorKind.SENSOR: Action.EDIT_SENSOR,
}


def _instigators(ctx: ConsoleContext, kind: str, locations: dict[str, CodeLocation]) -> list:
    rows = []
    for found in queries.list_instigators(deployment=ctx.deployment_required, kind=kind):
        location = locations.get(found.spec.location_name)
        if location is None or not ctx.reads_location(location.pk):
            continue
        rows.append(
            {
                "item": found,
                "running": found.status == InstigatorState.Status.RUNNING,
                "can_edit": is_allowed(ctx.principal, EDIT[kind], location),
            }
        )
    return rows


@console_view()
def automation(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    locations = {
        loc.name: loc for loc in CodeLocation.objects.filter(deployment=ctx.deployment_required)
    }
    evaluations = AutomationEvaluation.objects.filter(deployment=ctx.deployment_required).order_by(
        "-id"
    )
    readable_keys = None
    if ctx.locations is not None:
        from control_plane.catalog.models import AssetDefinition

        readable_keys = AssetDefinition.objects.filter(
            deployment=ctx.deployment_required,
            snapshot__is_current=True,
            code_location_id__in=ctx.locations,
        ).values("asset_key")
        evaluations = evaluations.filter(asset_key__in=readable_keys)
    return render(
        request,
        "console/automation.html",
        {
            "schedules": _instigators(ctx, InstigatorKind.SCHEDULE, locations),
            "sensors": _instigators(ctx, InstigatorKind.SENSOR, locations),
            "declarative": automation_settings.automation_settings(
                deployment=ctx.deployment_required
            ),
            "can_edit_automation": is_allowed(
                ctx.principal, Action.EDIT_AUTOMATION, ctx.deployment_required
            ),
            "evaluations": list(evaluations[:EVALUATIONS_SHOWN]),
        },
    )


def _back(ctx: ConsoleContext) -> HttpResponse:
    return redirect(
        "console:automation", org=ctx.organization.slug, deployment=ctx.deployment_required.name
    )


@require_POST
@console_view()
def instigator_toggle(request: HttpRequest, ctx: ConsoleContext, kind: str) -> HttpResponse:
    """Start or stop one schedule or sensor (``name``, ``location``, ``status`` posted)."""
    if kind not in EDIT:
        return _back(ctx)
    try:
        services.update_instigator(
            ctx=ctx,
            deployment=ctx.deployment_required,
            kind=kind,
            name=request.POST.get("name", ""),
            location_name=request.POST.get("location") or None,
            status=request.POST.get("status", ""),
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except AssayError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"{kind.title()} {request.POST.get('name')} updated.")
    return _back(ctx)


@require_POST
@console_view()
def automation_toggle(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Turn declarative automation of the deployment on or off."""
    try:
        automation_settings.update_automation(
            ctx=ctx,
            deployment=ctx.deployment_required,
            enabled=request.POST.get("enabled") == "true",
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    return _back(ctx)
