"""The Audit log page: the organization's audit events, searched and filtered by actor,
action, target and time, a page at a time (newest first), and exported as CSV or JSON Lines.

Reads through ``audit.queries.search`` (the API's search, scoped to the current
organization by its manager) and ``audit.export`` (the API's export format). Needs
``view_audit`` on the organization, as the API does.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from control_plane.audit import queries
from control_plane.audit.export import FORMATS, export_response
from control_plane.console.access import ConsoleContext, console_view
from control_plane.tenancy.roles import Action

PER_PAGE = 50
TEXT_FILTERS = ("actor", "action", "target", "target_type")
MAX_LENGTH = 254


class BadFilter(ValueError):
    """A filter the page cannot apply; the page says which and shows nothing."""


def _time(value: str, name: str) -> datetime | None:
    if not value:
        return None
    parsed = parse_datetime(value)
    if parsed is None:
        raise BadFilter(f"{name}: {value!r} is not a date and time (YYYY-MM-DDTHH:MM)")
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def _filters(request: HttpRequest) -> tuple[dict[str, str], dict[str, Any]]:
    """The form's values as given, and the keyword arguments ``search`` takes."""
    given = {k: request.GET.get(k, "").strip() for k in (*TEXT_FILTERS, "since", "until")}
    for name, value in given.items():
        if len(value) > MAX_LENGTH:
            raise BadFilter(f"{name}: at most {MAX_LENGTH} characters")
    search: dict[str, Any] = {k: given[k] or None for k in TEXT_FILTERS}
    search["since"] = _time(given["since"], "since")
    search["until"] = _time(given["until"], "until")
    return given, search


@console_view(Action.VIEW_AUDIT)
def audit_log(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """``?before=<seq>`` pages back (keyset on the per-organization sequence: no count of a
    log that only grows)."""
    error = ""
    events: list = []
    older = None
    try:
        given, search = _filters(request)
        before = request.GET.get("before", "")
        if before and not before.isdigit():
            raise BadFilter("before: a sequence number")
        found = queries.search(**search)
        if before:
            found = found.filter(seq__lt=int(before))
        events = list(found[: PER_PAGE + 1])
    except BadFilter as exc:
        error, given = str(exc), {k: request.GET.get(k, "")[:MAX_LENGTH] for k in request.GET}
    if len(events) > PER_PAGE:
        events = events[:PER_PAGE]
        older = events[-1].seq
    query = urlencode(
        {k: v for k, v in given.items() if v and k in (*TEXT_FILTERS, "since", "until")}
    )
    return render(
        request,
        "console/audit_log.html",
        {
            "events": events,
            "filters": given,
            "query": query,
            "older": older,
            "paged": bool(request.GET.get("before")),
            "error": error,
            "formats": FORMATS,
        },
        status=400 if error else 200,
    )


@console_view(Action.VIEW_AUDIT)
def audit_export(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse | StreamingHttpResponse:
    """Every event matching the filters, streamed (``?format=csv`` or ``jsonl``)."""
    fmt = request.GET.get("format", "jsonl")
    try:
        if fmt not in FORMATS:
            raise BadFilter(f"format: choose from {', '.join(FORMATS)}")
        _, search = _filters(request)
    except BadFilter as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return export_response(queries.search(**search), fmt=fmt, slug=ctx.organization.slug)
