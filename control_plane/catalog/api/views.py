"""Thin REST adapters over ``catalog.queries``."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response

from control_plane.catalog import queries, search
from control_plane.catalog.api import serializers as s
from control_plane.core.api.views import DeploymentScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class _DeploymentView(DeploymentScopedView):
    def resolve_in_deployment(self, **kwargs):
        authorize(self.ctx.principal, Action.VIEW, self.deployment)


class AssetListView(_DeploymentView):
    """Every asset of the deployment: latest materialization, partitions and check status."""

    serializer_class = s.AssetListSerializer

    @extend_schema(
        operation_id="assets_list",
        parameters=[OpenApiParameter("location", str, required=False)],
        responses=s.AssetListSerializer,
    )
    def get(self, request, org, deployment):
        assets = queries.list_assets(
            deployment=self.deployment, location=request.query_params.get("location")
        )
        return Response({"results": assets})


class AssetDetailView(_DeploymentView):
    """One asset with its upstream and downstream lineage."""

    serializer_class = s.AssetLineageSerializer

    @extend_schema(operation_id="asset_lineage", responses=s.AssetLineageSerializer)
    def get(self, request, org, deployment, asset_key):
        return Response(queries.asset_with_lineage(deployment=self.deployment, asset_key=asset_key))


class AssetSearchView(_DeploymentView):
    """Ranked catalog search over the deployment's current assets (see docs/control-plane.md)."""

    serializer_class = s.AssetSearchPageSerializer

    @extend_schema(
        operation_id="assets_search",
        parameters=[s.AssetSearchQuerySerializer],
        responses=s.AssetSearchPageSerializer,
    )
    def get(self, request, org, deployment):
        params = s.AssetSearchQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        data = params.validated_data
        page = search.search_assets(
            deployment=self.deployment, query=data["q"], limit=data["limit"], offset=data["offset"]
        )
        end = data["offset"] + len(page.results)
        return Response(
            {
                "count": page.count,
                "next_offset": end if end < page.count else None,
                "results": page.results,
            }
        )
