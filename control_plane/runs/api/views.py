"""Thin REST adapters over ``runs.services`` and ``runs.queries``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from control_plane.core.api.pagination import CursorPagination, IdCursorPagination
from control_plane.core.api.views import DeploymentScopedView
from control_plane.runs import queries, services
from control_plane.runs.api import serializers as s
from control_plane.runs.models import RunStatus
from control_plane.tenancy import queries as tenancy_queries
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class NewestFirstPagination(CursorPagination):
    ordering = "-created_at"


class _DeploymentView(DeploymentScopedView):
    def resolve_in_deployment(self, **kwargs):
        run_id = kwargs.get("run_id")
        self.run = queries.get_run(deployment=self.deployment, run_id=run_id) if run_id else None


class RunListView(_DeploymentView):
    """Runs of a deployment, newest first (``?status=QUEUED``); POST queues a run."""

    serializer_class = s.RunSerializer
    pagination_class = NewestFirstPagination

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=RunStatus.values)],
        responses=s.RunSerializer(many=True),
    )
    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        wanted = request.query_params.get("status")
        if wanted and wanted not in RunStatus.values:
            raise serializers.ValidationError({"status": [f"Choose from {', '.join(RunStatus)}."]})
        runs = queries.runs_of(deployment=self.deployment, status=wanted)
        page = self.paginate_queryset(runs)
        return self.get_paginated_response(s.RunSerializer(page, many=True).data)

    @extend_schema(request=s.RunLaunchSerializer, responses={201: s.RunSerializer})
    def post(self, request, org, deployment):
        data = self.read(s.RunLaunchSerializer)
        location = tenancy_queries.get_code_location(
            deployment=self.deployment, name=data["location"]
        )
        partition_range = data["partition_range"]
        run = services.launch_run(
            ctx=self.ctx,
            deployment=self.deployment,
            location=location,
            selection=data["selection"],
            partition_key=data["partition_key"],
            partition_range=(partition_range["start"], partition_range["end"])
            if partition_range
            else None,
            tags=data["tags"],
            priority=data["priority"],
        )
        return Response(s.RunSerializer(run).data, status=status.HTTP_201_CREATED)


class RunDetailView(_DeploymentView):
    serializer_class = s.RunSerializer

    def get(self, request, org, deployment, run_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        return Response(s.RunSerializer(self.run).data)


class RunEventsView(_DeploymentView):
    """The run's event log, in ingestion order."""

    serializer_class = s.EventSerializer
    pagination_class = IdCursorPagination

    @extend_schema(responses=s.EventSerializer(many=True))
    def get(self, request, org, deployment, run_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        page = self.paginate_queryset(queries.events_of(run=self.run))
        return self.get_paginated_response(s.EventSerializer(page, many=True).data)


class RunTerminateView(_DeploymentView):
    serializer_class = s.RunSerializer

    @extend_schema(request=s.RunTerminateSerializer, responses=s.RunSerializer)
    def post(self, request, org, deployment, run_id):
        data = self.read(s.RunTerminateSerializer)
        run = services.terminate_run(ctx=self.ctx, run=self.run, reason=data["reason"])
        return Response(s.RunSerializer(run).data)
