"""The console's Single sign-on page (Organization Admins): the SAML settings, the URLs to
paste into the identity provider, and SCIM tokens.

Thin over ``sso.services`` (which authorize ``manage_sso`` and audit every change) and
``sso.saml`` (the SP's URLs, the IdP metadata parser). Bad input re-renders the page with
the message and a 400, and changes nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import Forbidden, NotFound
from control_plane.sso import saml, services
from control_plane.sso.errors import InvalidSamlConfig
from control_plane.sso.models import DEFAULT_ATTRIBUTE_MAPPING
from control_plane.tenancy.roles import Action, Role

MAPPING_LABELS = {
    "email": "Email",
    "first_name": "First name",
    "last_name": "Last name",
    "groups": "Groups",
}
DEFAULT_ROLES = [role for role in Role if role != Role.ORG_ADMIN]


def _page(
    request: HttpRequest, ctx: ConsoleContext, *, secret: str = "", error: str = "", status=200
) -> HttpResponse:
    config = services.get_config(ctx)
    mapping = config.mapping()
    org = ctx.organization
    return render(
        request,
        "sso/console_settings.html",
        {
            "config": config,
            "mapping": [
                (key, label, mapping[key], DEFAULT_ATTRIBUTE_MAPPING[key])
                for key, label in MAPPING_LABELS.items()
            ],
            "roles": [(role.slug, role.label) for role in DEFAULT_ROLES],
            "default_role": Role(config.default_role).slug,
            "sp": {
                "metadata_url": saml.sp_entity_id(org),
                "entity_id": saml.sp_entity_id(org),
                "acs_url": saml.acs_url(org),
                "login_url": saml.login_url(org),
                "scim_base_url": f"{settings.BASE_URL}/scim/v2/{org.slug}/",
            },
            "tokens": services.scim_tokens(ctx=ctx),
            "secret": secret,
            "error": error,
        },
        status=status,
    )


def _changes_from(post) -> dict:
    """The settings form as ``update_config`` arguments (a blank mapping field: default)."""
    try:
        role = Role.from_slug(post.get("default_role", ""))
    except ValueError as error:
        raise InvalidSamlConfig(str(error)) from None
    return {
        "enabled": post.get("enabled") == "on",
        "sso_required": post.get("sso_required") == "on",
        "idp_entity_id": post.get("idp_entity_id", "").strip(),
        "idp_sso_url": post.get("idp_sso_url", "").strip(),
        "idp_x509_cert": post.get("idp_x509_cert", "").strip(),
        "default_role": role,
        "attribute_mapping": {
            key: post[f"map_{key}"].strip()
            for key in MAPPING_LABELS
            if post.get(f"map_{key}", "").strip()
        },
    }


@console_view(Action.MANAGE_SSO)
def sso_settings(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """The SAML settings form (POST saves it), the SP's URLs and the SCIM tokens."""
    if request.method == "POST":
        try:
            services.update_config(ctx=ctx, **_changes_from(request.POST))
        except InvalidSamlConfig as error:
            return _page(request, ctx, error=str(error), status=400)
        messages.success(request, "SAML settings saved.")
        return redirect("console:sso:settings", org=ctx.organization.slug)
    return _page(request, ctx)


@require_POST
@console_view(Action.MANAGE_SSO)
def import_metadata(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Fill the IdP's entity id, SSO URL and certificate from its pasted metadata XML."""
    try:
        found = saml.parse_idp_metadata(request.POST.get("metadata", "").strip() or "<none/>")
        services.update_config(ctx=ctx, **found)
    except InvalidSamlConfig as error:
        return _page(request, ctx, error=str(error), status=400)
    messages.success(request, f"IdP metadata of {found['idp_entity_id']} imported.")
    return redirect("console:sso:settings", org=ctx.organization.slug)


@require_POST
@console_view(Action.MANAGE_SSO)
def create_scim_token(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """A new SCIM token; its secret is in this answer only."""
    token, secret = services.create_scim_token(ctx=ctx, name=request.POST.get("name", ""))
    messages.success(request, f"SCIM token {token.name} created.")
    return _page(request, ctx, secret=secret)


@require_POST
@console_view(Action.MANAGE_SSO)
def revoke_scim_token(request: HttpRequest, ctx: ConsoleContext, token_id: int) -> HttpResponse:
    try:
        token = services.get_scim_token(ctx=ctx, token_id=token_id)
        services.revoke_scim_token(ctx=ctx, token=token)
    except NotFound:
        raise Http404("SCIM token not found") from None
    except Forbidden as error:
        raise PermissionDenied(error.message) from None
    messages.success(request, f"SCIM token {token.name} revoked.")
    return redirect("console:sso:settings", org=ctx.organization.slug)
