"""The Agents page: a deployment's code locations, whether each loaded (the error text of
one that failed), and the live agents serving them.

Reads through ``agents.queries.location_status`` (what ``GET …/code-locations/<name>/status/``
answers), narrowed to the locations the principal may read. Nothing here changes anything.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from control_plane.agents.queries import location_status
from control_plane.console.access import ConsoleContext, console_view
from control_plane.runs.queue import live_sessions
from control_plane.tenancy.queries import code_locations_visible_to


@console_view()
def agents(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    deployment = ctx.deployment_required
    now = timezone.now()
    locations = [
        {"location": location, **location_status(location=location, now=now)}
        for location in code_locations_visible_to(ctx.principal, deployment).order_by("name")
        if ctx.reads_location(location.pk)
    ]
    sessions = [s for s in live_sessions(now=now) if deployment.pk in s.deployment_ids]
    return render(
        request,
        "console/agents.html",
        {
            "locations": locations,
            "sessions": sorted(sessions, key=lambda s: s.agent_id),
            "failed": sum(1 for loc in locations if loc["status"] == "error"),
        },
    )
