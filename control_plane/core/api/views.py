"""The base view every organization endpoint derives from: tenancy is resolved here, once."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.generics import GenericAPIView

from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal, TenantContext, activate, deactivate
from control_plane.core.errors import NotFound


class OrganizationScopedView(GenericAPIView):
    """Resolves ``/orgs/{org}/...`` to a ``TenantContext`` before any handler runs.

    Authentication comes first (no credentials: 401); then the organization must exist
    *and* the principal must belong to it, otherwise 404 — another tenant's objects look
    exactly like missing ones. Handlers read ``self.ctx``; scoped managers read the same
    context, so a query that forgot its organization raises instead of leaking.
    """

    ctx: TenantContext

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # authentication + IsAuthenticated
        from control_plane.tenancy.queries import organization_for_principal

        principal: Principal | None = getattr(request, "principal", None)
        if principal is None:
            raise exceptions.NotAuthenticated()
        organization = organization_for_principal(slug=kwargs["org"], principal=principal)
        self.ctx = TenantContext(
            organization=organization,
            principal=principal,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        self._context_token = activate(self.ctx)
        self.resolve(**kwargs)

    def resolve(self, **kwargs) -> None:
        """Look up the objects named in the URL (inside the tenant context)."""

    def read(self, serializer_class) -> dict:
        """The request body, validated (a 400 naming every bad field otherwise)."""
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_context_token", None)
        if token is not None:
            deactivate(token)
            self._context_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    def get_queryset(self):
        raise NotFound("not found")  # lists and details come from services/queries


class DeploymentScopedView(OrganizationScopedView):
    """``/orgs/{org}/deployments/{deployment}/...``: the deployment is resolved once, inside
    the organization's context (another organization's deployment answers 404)."""

    def resolve(self, *, deployment, **kwargs):
        from control_plane.tenancy.queries import get_deployment

        self.deployment = get_deployment(name=deployment)
        self.ctx.deployment = self.deployment
        self.resolve_in_deployment(**kwargs)

    def resolve_in_deployment(self, **kwargs) -> None:
        """Look up the objects the URL names below the deployment."""
