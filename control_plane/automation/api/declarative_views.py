"""Thin REST adapters for declarative automation: on/off, and the evaluations that say
why each asset was or was not requested."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response

from control_plane.automation import automation_settings, evaluations
from control_plane.automation.api import declarative_serializers as s
from control_plane.core.api.pagination import CursorPagination
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class NewestFirst(CursorPagination):
    ordering = "-id"


class ByAssetKey(CursorPagination):
    ordering = "asset_key"


class AutomationSettingsView(DeploymentScopedView):
    """Declarative automation of the deployment: ``enabled`` and the latest tick. PATCH
    ``{"enabled": false}`` turns it off (Editor role)."""

    serializer_class = s.AutomationSettingsSerializer

    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        found = automation_settings.automation_settings(deployment=self.deployment)
        return Response(s.AutomationSettingsSerializer(found).data)

    @extend_schema(request=s.AutomationUpdateSerializer, responses=s.AutomationSettingsSerializer)
    def patch(self, request, org, deployment):
        data = s.AutomationUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        found = automation_settings.update_automation(
            ctx=self.ctx, deployment=self.deployment, enabled=data.validated_data["enabled"]
        )
        return Response(s.AutomationSettingsSerializer(found).data)


class AssetEvaluationListView(DeploymentScopedView):
    """An asset's automation evaluations, newest first: the first is its latest explanation."""

    serializer_class = s.EvaluationSerializer
    pagination_class = NewestFirst

    @extend_schema(responses=s.EvaluationSerializer(many=True))
    def get(self, request, org, deployment, asset_key):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        found = evaluations.evaluations_of_asset(deployment=self.deployment, asset_key=asset_key)
        page = self.paginate_queryset(found)
        return self.get_paginated_response(s.EvaluationSerializer(page, many=True).data)


class TickEvaluationListView(DeploymentScopedView):
    """Every asset one automation tick evaluated, by asset key."""

    serializer_class = s.EvaluationSerializer
    pagination_class = ByAssetKey

    @extend_schema(responses=s.EvaluationSerializer(many=True))
    def get(self, request, org, deployment, tick_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        found = evaluations.evaluations_of_tick(deployment=self.deployment, tick_id=tick_id)
        page = self.paginate_queryset(found)
        return self.get_paginated_response(s.EvaluationSerializer(page, many=True).data)
