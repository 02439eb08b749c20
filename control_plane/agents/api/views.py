"""A code location as agents serve it: its load status, and reloading it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from control_plane.agents import queries, services
from control_plane.agents.api import serializers as s
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy import queries as tenancy_queries
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class _LocationView(DeploymentScopedView):
    def resolve_in_deployment(self, *, location, **kwargs):
        self.location = tenancy_queries.get_code_location(deployment=self.deployment, name=location)


class LocationStatusView(_LocationView):
    """Whether the location loaded (its traceback when it did not), what it defines, and
    which connected agents serve it."""

    serializer_class = s.LocationStatusSerializer

    def get(self, request, org, deployment, location):
        authorize(self.ctx.principal, Action.VIEW, self.location)
        return Response(
            s.LocationStatusSerializer(queries.location_status(location=self.location)).data
        )


class LocationReloadView(_LocationView):
    """Ask the agents serving the location to reload it (after a deploy); each sends a
    fresh snapshot. 409 when no agent serving it is connected."""

    serializer_class = s.ReloadAnswerSerializer

    @extend_schema(request=None, responses={202: s.ReloadAnswerSerializer})
    def post(self, request, org, deployment, location):
        sessions = services.reload_location(ctx=self.ctx, location=self.location)
        return Response(
            {"agents": sorted({session.agent_id for session in sessions})},
            status=status.HTTP_202_ACCEPTED,
        )
