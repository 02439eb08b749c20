"""The audit log as a download, CSV or JSON Lines: one shape for the API and the console."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse

from control_plane.audit.api.serializers import AuditEventSerializer
from control_plane.audit.models import AuditEvent

EXPORT_FIELDS = list(AuditEventSerializer().fields)
FORMATS = ("csv", "jsonl")

# A spreadsheet runs a cell starting with one of these as a formula ("CSV injection"); names
# in the log are chosen by users, so such cells get a leading apostrophe in the CSV export.
# JSON Lines keeps every value exactly.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def export_response(events: QuerySet[AuditEvent], *, fmt: str, slug: str) -> StreamingHttpResponse:
    """Stream ``events`` (already scoped and filtered) as an attachment, in chunks."""
    rows = (AuditEventSerializer(event).data for event in events.iterator(chunk_size=1000))
    if fmt == "csv":
        response = StreamingHttpResponse(_csv_lines(rows), content_type="text/csv")
        filename = f"audit-{slug}.csv"
    else:
        response = StreamingHttpResponse(
            (json.dumps(row, default=str) + "\n" for row in rows),
            content_type="application/x-ndjson",
        )
        filename = f"audit-{slug}.jsonl"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _csv_cell(value: Any) -> Any:
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _csv_lines(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=EXPORT_FIELDS)
    writer.writeheader()
    yield buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
        yield buffer.getvalue()
