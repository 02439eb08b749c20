"""Thin REST adapters over ``alerts.services`` and ``alerts.queries``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from control_plane.alerts import queries, services
from control_plane.alerts.api import serializers as s
from control_plane.core.api.pagination import CursorPagination, IdCursorPagination
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class NewestFirstPagination(CursorPagination):
    ordering = "-opened_at"


class _DeploymentView(DeploymentScopedView):
    def resolve_in_deployment(self, **kwargs):
        policy_id = kwargs.get("policy_id")
        if policy_id is not None:
            self.policy = queries.get_policy(deployment=self.deployment, policy_id=policy_id)


class AlertPolicyListView(_DeploymentView):
    """The deployment's alert policies; POST creates one (``manage_alerts``)."""

    serializer_class = s.AlertPolicySerializer
    pagination_class = IdCursorPagination

    @extend_schema(responses=s.AlertPolicySerializer(many=True))
    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        page = self.paginate_queryset(queries.policies_of(deployment=self.deployment))
        return self.get_paginated_response(s.AlertPolicySerializer(page, many=True).data)

    @extend_schema(request=s.AlertPolicyWriteSerializer, responses={201: s.AlertPolicySerializer})
    def post(self, request, org, deployment):
        data = self.read(s.AlertPolicyWriteSerializer)
        policy = services.create_alert_policy(ctx=self.ctx, deployment=self.deployment, **data)
        return Response(s.AlertPolicySerializer(policy).data, status=status.HTTP_201_CREATED)


class AlertPolicyDetailView(_DeploymentView):
    serializer_class = s.AlertPolicySerializer

    def get(self, request, org, deployment, policy_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        return Response(s.AlertPolicySerializer(self.policy).data)

    @extend_schema(request=s.AlertPolicyUpdateSerializer)
    def patch(self, request, org, deployment, policy_id):
        data = self.read(s.AlertPolicyUpdateSerializer)
        policy = services.update_alert_policy(ctx=self.ctx, policy=self.policy, **data)
        return Response(s.AlertPolicySerializer(policy).data)

    def delete(self, request, org, deployment, policy_id):
        services.delete_alert_policy(ctx=self.ctx, policy=self.policy)
        return Response(status=status.HTTP_204_NO_CONTENT)


class IncidentListView(_DeploymentView):
    """Incidents newest first (``?status=open|resolved``), each with its deliveries."""

    serializer_class = s.IncidentSerializer
    pagination_class = NewestFirstPagination

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=queries.INCIDENT_STATUSES)],
        responses=s.IncidentSerializer(many=True),
    )
    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in queries.INCIDENT_STATUSES:
            choices = " or ".join(queries.INCIDENT_STATUSES)
            raise serializers.ValidationError({"status": [f"Choose {choices}."]})
        incidents = queries.incidents_of(deployment=self.deployment, status=wanted)
        page = self.paginate_queryset(incidents)
        return self.get_paginated_response(s.IncidentSerializer(page, many=True).data)
