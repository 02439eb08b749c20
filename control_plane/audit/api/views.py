"""Audit log API: search with cursor pagination, and export as CSV or JSON Lines."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema

from control_plane.audit import queries
from control_plane.audit.api.serializers import AuditEventSerializer, AuditFilterSerializer
from control_plane.audit.export import export_response
from control_plane.core.api.pagination import CursorPagination
from control_plane.core.api.views import OrganizationScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class AuditCursorPagination(CursorPagination):
    ordering = "-seq"  # newest first


class _AuditBase(OrganizationScopedView):
    serializer_class = AuditEventSerializer

    def filtered(self):
        authorize(self.ctx.principal, Action.VIEW_AUDIT, self.ctx.organization)
        params = AuditFilterSerializer(data=self.request.query_params.dict())
        params.is_valid(raise_exception=True)
        filters = {
            k: v
            for k, v in params.validated_data.items()
            if k in {"actor", "action", "target_type", "target", "since", "until"}
        }
        return queries.search(**filters), params.validated_data


class AuditEventListView(_AuditBase):
    pagination_class = AuditCursorPagination

    @extend_schema(parameters=[AuditFilterSerializer], responses=AuditEventSerializer(many=True))
    def get(self, request, org):
        events, _ = self.filtered()
        page = self.paginate_queryset(events)
        return self.get_paginated_response(AuditEventSerializer(page, many=True).data)


class AuditExportView(_AuditBase):
    @extend_schema(parameters=[AuditFilterSerializer], responses={(200, "text/csv"): str})
    def get(self, request, org):
        events, params = self.filtered()
        return export_response(
            events, fmt=params.get("format", "jsonl"), slug=self.ctx.organization.slug
        )
