"""The console's catalog search page: a thin adapter over ``catalog.search``."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from control_plane.catalog import search
from control_plane.catalog.errors import InvalidSearch
from control_plane.console.access import console_view
from control_plane.core.context import TenantContext

PAGE = 25


@console_view()
def search_page(request: HttpRequest, ctx: TenantContext) -> HttpResponse:
    """Ranked matches for ``?q=``, ``PAGE`` at a time (``?offset=``)."""
    query = request.GET.get("q", "").strip()
    try:
        offset = max(int(request.GET.get("offset", 0)), 0)
    except ValueError:
        offset = 0
    page, error = None, ""
    if query:
        try:
            page = search.search_assets(
                deployment=ctx.deployment, query=query, limit=PAGE, offset=offset
            )
        except InvalidSearch as exc:
            error = exc.message
    end = offset + (len(page.results) if page else 0)
    return render(
        request,
        "catalog/search.html",
        {
            "query": query,
            "page": page,
            "error": error,
            "previous_offset": max(offset - PAGE, 0) if offset else None,
            "next_offset": end if page and end < page.count else None,
            "first": offset + 1,
            "last": end,
        },
        status=400 if error else 200,
    )
