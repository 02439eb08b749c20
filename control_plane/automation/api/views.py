"""Thin REST adapters over ``automation.services`` and ``automation.queries``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework.response import Response

from control_plane.automation import queries, services
from control_plane.automation.api import serializers as s
from control_plane.automation.models import DaemonTick, InstigatorKind
from control_plane.core.api.pagination import CursorPagination
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

LOCATION_PARAM = OpenApiParameter(
    "location", str, description="the code location, when several define this name"
)


class NewestTicksFirst(CursorPagination):
    ordering = "-id"


class _InstigatorList(DeploymentScopedView):
    kind: str

    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        instigators = queries.list_instigators(deployment=self.deployment, kind=self.kind)
        return Response({"results": self.serializer_class(instigators, many=True).data})


class _InstigatorDetail(DeploymentScopedView):
    kind: str
    update_serializer: type

    def _get(self, name: str):
        return queries.get_instigator(
            deployment=self.deployment,
            kind=self.kind,
            name=name,
            location_name=self.request.query_params.get("location"),
        )

    def get(self, request, org, deployment, **names):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        return Response(self.serializer_class(self._get(self._name(names))).data)

    @staticmethod
    def _name(names: dict[str, str]) -> str:
        [name] = names.values()
        return name

    def patch(self, request, org, deployment, **names):
        name = self._name(names)
        data = self.read(self.update_serializer)
        services.update_instigator(
            ctx=self.ctx,
            deployment=self.deployment,
            kind=self.kind,
            name=name,
            location_name=request.query_params.get("location"),
            **data,
        )
        return Response(self.serializer_class(self._get(name)).data)


class ScheduleListView(_InstigatorList):
    """The deployment's schedules, with their state and last and next tick."""

    kind = InstigatorKind.SCHEDULE
    serializer_class = s.ScheduleSerializer

    @extend_schema(
        operation_id="orgs_deployments_schedules_list",
        responses=inline_serializer("ScheduleList", {"results": s.ScheduleSerializer(many=True)}),
    )
    def get(self, request, org, deployment):
        return super().get(request, org, deployment)


@extend_schema(parameters=[LOCATION_PARAM])
class ScheduleDetailView(_InstigatorDetail):
    """A schedule; PATCH starts or stops it (``status``) or sets its ``catchup``."""

    kind = InstigatorKind.SCHEDULE
    serializer_class = s.ScheduleSerializer
    update_serializer = s.ScheduleUpdateSerializer

    @extend_schema(request=s.ScheduleUpdateSerializer, responses=s.ScheduleSerializer)
    def patch(self, request, org, deployment, schedule_name):
        return super().patch(request, org, deployment, schedule_name=schedule_name)


class SensorListView(_InstigatorList):
    """The deployment's sensors, with their state, cursor and last tick."""

    kind = InstigatorKind.SENSOR
    serializer_class = s.SensorSerializer

    @extend_schema(
        operation_id="orgs_deployments_sensors_list",
        responses=inline_serializer("SensorList", {"results": s.SensorSerializer(many=True)}),
    )
    def get(self, request, org, deployment):
        return super().get(request, org, deployment)


@extend_schema(parameters=[LOCATION_PARAM])
class SensorDetailView(_InstigatorDetail):
    """A sensor; PATCH starts or stops it (``status``) or sets its ``cursor`` (null resets)."""

    kind = InstigatorKind.SENSOR
    serializer_class = s.SensorSerializer
    update_serializer = s.SensorUpdateSerializer

    @extend_schema(request=s.SensorUpdateSerializer, responses=s.SensorSerializer)
    def patch(self, request, org, deployment, sensor_name):
        return super().patch(request, org, deployment, sensor_name=sensor_name)


class TickListView(DeploymentScopedView):
    """Every daemon tick of the deployment, newest first: ``?loop=schedule&name=nightly``,
    ``?status=failure``."""

    serializer_class = s.TickSerializer
    pagination_class = NewestTicksFirst

    @extend_schema(
        parameters=[
            OpenApiParameter("loop", str, enum=DaemonTick.Loop.values),
            OpenApiParameter("name", str),
            OpenApiParameter("status", str, enum=DaemonTick.Status.values),
        ],
        responses=s.TickSerializer(many=True),
    )
    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        params = request.query_params
        ticks = queries.ticks_of(
            deployment=self.deployment,
            loop=params.get("loop"),
            name=params.get("name"),
            status=params.get("status"),
        )
        page = self.paginate_queryset(ticks)
        return self.get_paginated_response(s.TickSerializer(page, many=True).data)


class TickDetailView(DeploymentScopedView):
    serializer_class = s.TickSerializer

    def get(self, request, org, deployment, tick_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        tick = queries.get_tick(deployment=self.deployment, tick_id=tick_id)
        return Response(s.TickSerializer(tick).data)
