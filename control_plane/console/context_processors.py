"""What every console page's base template needs: nav, the org and deployment
switchers, and the banners apps register (``console.banners``)."""

from __future__ import annotations

from django.http import HttpRequest

from control_plane.console.banners import banners_for
from control_plane.console.nav import links_for
from control_plane.tenancy.queries import deployments_visible_to, organizations_of


def console(request: HttpRequest) -> dict:
    ctx = getattr(request, "ctx", None)
    allowed = getattr(request, "allowed", None)
    if ctx is None:  # sign-in pages and pages outside an organization
        return {}
    match = request.resolver_match
    return {
        "ctx": ctx,
        "allowed": allowed,
        "console_banners": banners_for(ctx),
        "nav_links": links_for(ctx, current_url_name=match.view_name if match else None),
        "switch_organizations": list(organizations_of(ctx.principal)),
        "switch_deployments": list(deployments_visible_to(ctx.principal, ctx.organization)),
    }
