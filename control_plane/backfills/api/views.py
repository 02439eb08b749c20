"""Thin REST adapters over ``backfills.services`` and ``backfills.queries``."""

from __future__ import annotations

import itertools
from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from assay.backfill import BackfillStatus
from assay.definitions.asset_key import AssetKey
from assay.errors import DefinitionError
from control_plane.backfills import queries, services
from control_plane.backfills.api import serializers as s
from control_plane.backfills.errors import UnreadableBackfill
from control_plane.backfills.models import Backfill
from control_plane.backfills.models import BackfillStatus as Status
from control_plane.backfills.planning import BackfillRequest
from control_plane.core.api.pagination import CursorPagination
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

PROBLEMS_SHOWN = 50


class NewestFirst(CursorPagination):
    ordering = "-created_at"


class _DeploymentView(DeploymentScopedView):
    def resolve_in_deployment(self, **kwargs):
        backfill_id = kwargs.get("backfill_id")
        if backfill_id is not None:
            self.backfill = queries.get_backfill(
                deployment=self.deployment, backfill_id=backfill_id
            )

    def detail(self, backfill) -> dict:
        """The backfill with its problems; one whose plan cannot be read (see its failed
        ticks) still shows its stored counts, so it can be seen and canceled."""
        try:
            stored = queries.stored_state(backfill)
        except UnreadableBackfill:
            counts = backfill.run_counts
            num_runs, shown = sum(counts.values()), []
            total = sum(counts.get(status.value, 0) for status in queries.PROBLEM_STATUSES)
        else:
            num_runs = len(stored.state.runs)
            shown, total = queries.problems(stored, limit=PROBLEMS_SHOWN)
        return {
            **s.BackfillSerializer(backfill).data,
            "num_runs": num_runs,
            "problems": s.PlannedRunSerializer(shown, many=True).data,
            "problem_count": total,
        }


class BackfillListView(_DeploymentView):
    """The deployment's backfills, newest first (``?status=failed``); POST requests one."""

    serializer_class = s.BackfillSerializer
    pagination_class = NewestFirst

    @extend_schema(
        parameters=[OpenApiParameter("status", str, enum=Status.values)],
        responses=s.BackfillSerializer(many=True),
    )
    def get(self, request, org, deployment):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        wanted = request.query_params.get("status")
        if wanted and wanted not in Status.values:
            raise serializers.ValidationError({"status": [f"Choose from {', '.join(Status)}."]})
        page = self.paginate_queryset(
            queries.backfills_of(deployment=self.deployment, status=wanted)
        )
        return self.get_paginated_response(s.BackfillSerializer(page, many=True).data)

    @extend_schema(request=s.BackfillLaunchSerializer, responses={201: s.BackfillDetailSerializer})
    def post(self, request, org, deployment):
        data = self.read(s.BackfillLaunchSerializer)
        partition_range = data["partition_range"]
        keys = data["partition_keys"]
        backfill = services.launch_backfill(
            ctx=self.ctx,
            deployment=self.deployment,
            request=BackfillRequest(
                selection=data["selection"],
                location_name=data["location"],
                partition_range=(partition_range["start"], partition_range["end"])
                if partition_range
                else None,
                partition_keys=tuple(keys) if keys is not None else None,
                all_missing=data["all_missing"],
                max_concurrent_runs=data["max_concurrent_runs"],
            ),
            tags=data["tags"],
        )
        return Response(self.detail(backfill), status=status.HTTP_201_CREATED)


class BackfillDetailView(_DeploymentView):
    """A backfill with its counts per status and the planned runs that failed, were
    skipped or canceled (with the reason)."""

    serializer_class = s.BackfillDetailSerializer

    def get(self, request, org, deployment, backfill_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        return Response(self.detail(self.backfill))


# Far past any plan (plans are bounded far below this), and small enough for islice.
MAX_PARTITION_OFFSET = 10**9


class _PartitionQuery(serializers.Serializer):
    status = serializers.ChoiceField(choices=[x.value for x in BackfillStatus], required=False)
    asset = serializers.CharField(max_length=500, required=False)
    offset = serializers.IntegerField(
        min_value=0, max_value=MAX_PARTITION_OFFSET, required=False, default=0
    )
    limit = serializers.IntegerField(min_value=1, max_value=1000, required=False, default=200)

    def validate_asset(self, value: str) -> AssetKey:
        try:
            return AssetKey.from_user_string(value)
        except DefinitionError as error:
            raise serializers.ValidationError(str(error)) from None


class BackfillPartitionsView(_DeploymentView):
    """Every asset partition of the backfill and its status, in plan order, a page at a time
    (``?status=failed``, ``?asset=raw``, ``?offset=&limit=``); failed and skipped ones say
    why."""

    serializer_class = s.PartitionSerializer

    @extend_schema(
        parameters=[_PartitionQuery],
        responses=inline_serializer(
            "PartitionPage",
            {
                "next": serializers.URLField(allow_null=True),
                "results": s.PartitionSerializer(many=True),
            },
        ),
    )
    def get(self, request, org, deployment, backfill_id):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)
        query = _PartitionQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        offset, limit = params["offset"], params["limit"]
        rows = list(
            itertools.islice(
                queries.partitions(
                    queries.stored_state(self.backfill),
                    status=params.get("status"),
                    asset_key=params.get("asset"),
                ),
                offset,
                offset + limit + 1,
            )
        )
        url = request.build_absolute_uri()
        more = len(rows) > limit
        return Response(
            {
                "next": replace_query_param(url, "offset", offset + limit) if more else None,
                "results": s.PartitionSerializer(rows[:limit], many=True).data,
            }
        )


class _BackfillAction(_DeploymentView):
    serializer_class = s.BackfillDetailSerializer
    service: Callable[..., Backfill]

    @extend_schema(request=None, responses=s.BackfillDetailSerializer)
    def post(self, request, org, deployment, backfill_id):
        return Response(self.detail(self.service(ctx=self.ctx, backfill=self.backfill)))


class BackfillCancelView(_BackfillAction):
    """Launch nothing more and terminate the backfill's running runs."""

    service = staticmethod(services.cancel_backfill)


class BackfillResumeView(_BackfillAction):
    """Request again what a cancel stopped."""

    service = staticmethod(services.resume_backfill)


class BackfillRetryFailedView(_BackfillAction):
    """Request again the failed runs and the runs their failure skipped."""

    service = staticmethod(services.retry_failed_backfill)
