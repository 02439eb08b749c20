"""Console pages: the entry point and the deployment overview (thin over tenancy queries)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse

from control_plane.console.access import ConsoleContext, console_view, principal_of
from control_plane.core.context import TenantContext, tenant_context
from control_plane.core.errors import NotFound
from control_plane.tenancy.queries import (
    code_locations_visible_to,
    deployments_visible_to,
    organization_for_principal,
    organizations_of,
)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """``/``: the first organization's production (or first) deployment."""
    principal = principal_of(request)
    organization = organizations_of(principal).first()
    if organization is None:
        return render(request, "console/no_organization.html")
    return redirect("console:organization", org=organization.slug)


@console_view(None)
def organization(request: HttpRequest, ctx: TenantContext) -> HttpResponse:
    deployments = list(deployments_visible_to(ctx.principal, ctx.organization))
    prod = next((d for d in deployments if d.kind == d.Kind.PROD), None)
    chosen = prod or (deployments[0] if deployments else None)
    if chosen is not None:
        return redirect("console:graph", org=ctx.organization.slug, deployment=chosen.name)
    return render(request, "console/organization.html", {"deployments": deployments})


@console_view()
def deployment(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    locations = list(
        code_locations_visible_to(ctx.principal, ctx.deployment_required).order_by("name")
    )
    return render(request, "console/deployment.html", {"locations": locations})


@login_required
def switch(request: HttpRequest) -> HttpResponse:
    """The switcher's target: the same page in the chosen organization and deployment."""
    principal = principal_of(request)
    try:
        organization = organization_for_principal(
            slug=request.GET.get("org", ""), principal=principal
        )
    except NotFound:
        raise Http404("organization not found") from None
    ctx = TenantContext(organization=organization, principal=principal)
    with tenant_context(ctx):
        visible = deployments_visible_to(principal, organization)
        deployment = visible.filter(name=request.GET.get("deployment", "")).first()
    if deployment is None:
        return redirect("console:organization", org=organization.slug)
    kwargs = {"org": organization.slug, "deployment": deployment.name}
    page = request.GET.get("page", "")
    if page.startswith("console:"):
        try:
            return redirect(reverse(page, kwargs=kwargs))
        except NoReverseMatch:
            pass  # a page that needs more than the deployment (one asset, one run)
    return redirect("console:deployment", **kwargs)
