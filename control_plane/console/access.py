"""``console_view``: resolves a console request to a ``TenantContext``, as the API's base view.

The organization and deployment in the URL are looked up with the tenancy code the API
uses (another tenant's look exactly like missing ones: 404), the context is active while
the view runs and renders, and the view's action is authorized (403 otherwise).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import Forbidden, NotFound
from control_plane.tenancy.permissions import authorize, is_allowed
from control_plane.tenancy.roles import Action


class Allowed:
    """``{% if allowed.launch_run %}`` in templates: may the principal do this here?"""

    def __init__(self, principal: Principal, target) -> None:
        self._principal = principal
        self._target = target

    def __getitem__(self, action: str) -> bool:
        return is_allowed(self._principal, Action(action), self._target)

    def __getattr__(self, action: str) -> bool:
        if action.startswith("_"):
            raise AttributeError(action)
        try:
            return self[action]
        except ValueError:
            raise AttributeError(action) from None


def console_view(action: Action = Action.VIEW) -> Callable:
    """Decorate a view taking ``(request, ctx, **kwargs)`` under ``o/<org>/[d/<deployment>/]``.

    ``action`` is authorized on the deployment when the URL names one, else on the
    organization; a view that changes something authorizes again through its service.
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, org: str, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            from control_plane.tenancy.queries import get_deployment, organization_for_principal

            principal = Principal.for_user(request.user)
            try:
                organization = organization_for_principal(slug=org, principal=principal)
            except NotFound:
                raise Http404("organization not found") from None
            ctx = TenantContext(
                organization=organization,
                principal=principal,
                ip=client_ip(request),
                user_agent=request.META.get("HTTP_USER_AGENT", ""),
            )
            with tenant_context(ctx):
                try:
                    if "deployment" in kwargs:
                        ctx.deployment = get_deployment(name=kwargs.pop("deployment"))
                    target = ctx.deployment or organization
                    authorize(principal, action, target)
                except NotFound:
                    raise Http404("not found") from None
                except Forbidden as error:
                    raise PermissionDenied(error.message) from None
                request.ctx = ctx
                request.allowed = Allowed(principal, target)
                return view(request, ctx, *args, **kwargs)

        wrapper.console_action = action
        return wrapper

    return decorate
