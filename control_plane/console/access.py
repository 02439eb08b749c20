"""``console_view``: resolves a console request to a ``TenantContext``, as the API's base view.

The organization and deployment in the URL are looked up with the tenancy code the API
uses (another tenant's look exactly like missing ones: 404), the context is active while
the view runs and renders, and the view's action is authorized (403 otherwise). A member
granted only some code locations of a deployment reads its pages narrowed to those
(``ConsoleContext.locations``, decided by ``tenancy.queries.readable_location_ids``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import cast

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse

from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import Forbidden, NotFound
from control_plane.tenancy.permissions import authorize, is_allowed
from control_plane.tenancy.roles import Action


@dataclass
class ConsoleContext(TenantContext):
    """A console page's tenant context. ``locations`` maps the ids of the code locations the
    principal may read to their names when it may not read the whole deployment (``None``:
    all of it); deployment pages show only those locations' assets and runs."""

    locations: dict[int, str] | None = None

    def reads_location(self, location: str | int | None) -> bool:
        """Whether a code location (by name or id) is readable on this page."""
        if self.locations is None:
            return True
        if isinstance(location, int):
            return location in self.locations
        return location in self.locations.values()

    def readable(self, keys_by_location: Iterable[tuple[str, str]]) -> set[str]:
        """The keys of ``(key, location name)`` pairs whose location is readable."""
        return {key for key, location in keys_by_location if self.reads_location(location)}


class ConsoleRequest(HttpRequest):
    """A request inside ``console_view``: its context and what its principal may do (the
    base template reads both)."""

    ctx: ConsoleContext
    allowed: Allowed


def principal_of(request: HttpRequest) -> Principal:
    """The signed-in user as a principal (for views behind a sign-in check)."""
    from control_plane.tenancy.models import User

    user = request.user
    if not isinstance(user, User) or not user.is_authenticated:
        raise PermissionDenied("sign in first")
    return Principal.for_user(user)


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


def console_view(action: Action | None = Action.VIEW) -> Callable:
    """Decorate a view taking ``(request, ctx, **kwargs)`` under ``o/<org>/[d/<deployment>/]``.

    ``action`` is authorized on the deployment when the URL names one, else on the
    organization; a view that changes something authorizes again through its service.
    ``None``: membership of the organization is enough (the landing page, which sends a
    member to a deployment they may read).
    """

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args, org: str, **kwargs) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            from control_plane.tenancy.queries import (
                get_deployment,
                organization_for_principal,
            )

            principal = principal_of(request)
            try:
                organization = organization_for_principal(slug=org, principal=principal)
            except NotFound:
                raise Http404("organization not found") from None
            ctx = ConsoleContext(
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
                    if ctx.deployment is not None and action in (None, Action.VIEW):
                        ctx.locations = _readable_locations(principal, ctx.deployment)
                    elif action is not None:
                        authorize(principal, action, target)
                except NotFound:
                    raise Http404("not found") from None
                except Forbidden as error:
                    raise PermissionDenied(error.message) from None
                console_request = cast(ConsoleRequest, request)
                console_request.ctx = ctx
                console_request.allowed = Allowed(principal, target)
                return view(console_request, ctx, *args, **kwargs)

        wrapper.console_action = action  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _readable_locations(principal: Principal, deployment) -> dict[int, str] | None:
    """``None`` when the whole deployment is readable, else its readable code locations
    (none at all: 403, as the API answers)."""
    from control_plane.tenancy.models import CodeLocation
    from control_plane.tenancy.queries import readable_location_ids

    ids = readable_location_ids(principal, deployment)
    if ids is None:
        return None
    if not ids:
        authorize(principal, Action.VIEW, deployment)  # raises with the API's message
    return dict(CodeLocation.objects.filter(pk__in=ids).values_list("pk", "name"))
