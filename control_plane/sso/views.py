"""SAML endpoints: SP metadata, SP-initiated login, and the ACS the IdP posts to.

Thin: validation, provisioning and auditing live in ``saml`` and ``services``.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib.auth import login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from control_plane.core.api.authentication import client_ip
from control_plane.sso import saml, services
from control_plane.sso.errors import SamlRefused
from control_plane.tenancy.models import Organization


def _refused(request: HttpRequest, org: Organization, error: SamlRefused) -> HttpResponse:
    saml.audit_refusal(
        org,
        error.message,
        ip=client_ip(request),
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
    )
    return render(
        request, "sso/refused.html", {"organization": org, "message": error.message}, status=403
    )


@require_GET
def metadata(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    return HttpResponse(saml.sp_metadata(organization), content_type="application/samlmetadata+xml")


@require_GET
def find(request: HttpRequest) -> HttpResponse:
    """The sign-in page's "Sign in with SSO" form: a page that moves on to the organization's
    SP-initiated login.

    Not a redirect: browsers hold a form's whole redirect chain to the page's CSP
    ``form-action 'self'``, so a redirect chain ending at the IdP would be blocked.
    """
    organization = get_object_or_404(Organization, slug=request.GET.get("org", "").strip())
    login_url = f"/sso/{organization.slug}/login/"
    next_url = _safe_next(request)
    if next_url:
        login_url += "?" + urlencode({"next": next_url})
    return render(
        request, "sso/continue.html", {"organization": organization, "login_url": login_url}
    )


def _safe_next(request: HttpRequest) -> str:
    """The ``next`` page to land on after sign-in: a path on this site, else nothing."""
    next_url = request.GET.get("next", "")
    return next_url if url_has_allowed_host_and_scheme(next_url, allowed_hosts=None) else ""


@require_GET
def start(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    try:
        return HttpResponseRedirect(saml.start_login(organization, return_to=_safe_next(request)))
    except SamlRefused as error:
        return _refused(request, organization, error)


@csrf_exempt  # the IdP posts here cross-site; the signed assertion is the proof
@require_POST
def acs(request: HttpRequest, org: str) -> HttpResponse:
    organization = get_object_or_404(Organization, slug=org)
    ip, agent = client_ip(request), request.META.get("HTTP_USER_AGENT", "")
    try:
        identity = saml.consume_response(organization, request.POST.get("SAMLResponse", ""))
        user = services.sign_in(organization, identity, ip=ip, user_agent=agent)
    except SamlRefused as error:
        return _refused(request, organization, error)
    login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session["sso_organization"] = organization.slug
    return HttpResponseRedirect(identity.return_to or f"/o/{organization.slug}/")
