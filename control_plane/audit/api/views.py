"""Audit log API: search with cursor pagination, and export as CSV or JSON Lines."""

from __future__ import annotations

import csv
import io
import json

from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema

from control_plane.audit import queries
from control_plane.audit.api.serializers import AuditEventSerializer, AuditFilterSerializer
from control_plane.core.api.pagination import CursorPagination
from control_plane.core.api.views import OrganizationScopedView
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

EXPORT_FIELDS = list(AuditEventSerializer().fields)


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
            if k in {"actor", "action", "target_type", "since", "until"}
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
        fmt = params.get("format", "jsonl")
        rows = (AuditEventSerializer(event).data for event in events.iterator(chunk_size=1000))
        if fmt == "csv":
            response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
            filename = f"audit-{self.ctx.organization.slug}.csv"
        else:
            response = StreamingHttpResponse(
                (json.dumps(row, default=str) + "\n" for row in rows),
                content_type="application/x-ndjson",
            )
            filename = f"audit-{self.ctx.organization.slug}.jsonl"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection"); names
# in the log are chosen by users, so such cells get a leading apostrophe in the CSV export.
# JSON Lines keeps every value exactly.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_lines(rows):
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        yield buffer.getvalue()
