"""Run pages: the list with filters, one run (steps, timeline, live event log), and its
terminate / re-execute buttons (through ``runs.services``, which authorize)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Max, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from assay.execution.events import EventType
from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden, NotFound
from control_plane.runs import services
from control_plane.runs.models import EventLogEntry, Run, RunStatus
from control_plane.runs.queries import events_of, get_run, runs_of
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action

RUNS_PAGE = 50
EVENTS_SHOWN = 200
FINISHED = {RunStatus.SUCCESS, RunStatus.FAILURE, RunStatus.CANCELED}
STEP_TYPES = [
    EventType.STEP_STARTED,
    EventType.STEP_SUCCEEDED,
    EventType.STEP_FAILED,
    EventType.STEP_SKIPPED,
]


@console_view()
def run_list(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    status = request.GET.get("status", "")
    if status and status not in RunStatus.values:
        status = ""
    runs = runs_of(deployment=ctx.deployment_required, status=status or None).order_by(
        "-created_at"
    )
    if ctx.locations is not None:
        runs = runs.filter(code_location_id__in=ctx.locations)
    location = request.GET.get("location", "")
    if location:
        runs = runs.filter(code_location__name=location)
    asset = request.GET.get("asset", "").strip()
    if asset:
        runs = runs.filter(asset_keys__contains=[asset])
    page = Paginator(runs, RUNS_PAGE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/run_list.html",
        {
            "page": page,
            "statuses": RunStatus.values,
            "filters": {"status": status, "location": location, "asset": asset},
            "query": params.urlencode(),
        },
    )


def _run(ctx: ConsoleContext, run_id: str) -> Run:
    try:
        run = get_run(deployment=ctx.deployment_required, run_id=run_id)
    except NotFound:
        raise Http404("run not found") from None
    if not ctx.reads_location(run.code_location_id):
        raise Http404("run not found")
    return run


def _steps(run: Run) -> list[dict]:
    """Each step's first start and last end, aggregated by the database (one query)."""
    spans: dict[str, dict] = {}
    rows = (
        EventLogEntry.objects.filter(run=run, event_type__in=STEP_TYPES)
        .values("asset_key", "event_type")
        .annotate(first=Min("timestamp"), last=Max("timestamp"))
        .order_by()
    )
    for row in rows:
        step = spans.setdefault(
            row["asset_key"],
            {"key": row["asset_key"], "start": None, "end": None, "status": "started"},
        )
        if row["event_type"] == EventType.STEP_STARTED:
            step["start"] = row["first"]
        else:
            step["end"] = row["last"]
            step["status"] = row["event_type"].removeprefix("step_")
    steps = sorted(spans.values(), key=lambda s: (s["start"] or s["end"], s["key"]))
    begin = min((s["start"] or s["end"] for s in steps), default=None)
    finish = max((s["end"] or s["start"] for s in steps), default=None)
    total = (finish - begin).total_seconds() if begin and finish else 0
    for s in steps:
        start = s["start"] or s["end"]
        end = s["end"] or finish
        offset = (start - begin).total_seconds() if begin else 0
        length = (end - start).total_seconds() if end and start else 0
        s["left"] = round(100 * offset / total) if total else 0
        s["width"] = max(1, round(100 * length / total)) if total else 100
        s["seconds"] = round(length, 2)
    return steps


def _context(ctx: ConsoleContext, run: Run) -> dict:
    events = list(events_of(run=run).order_by("-id")[:EVENTS_SHOWN])
    events.reverse()
    return {
        "run": run,
        "steps": _steps(run),
        "events": events,
        "event_count": events_of(run=run).count(),
        "events_shown": EVENTS_SHOWN,
        "live": run.status not in FINISHED,
        "can_terminate": run.status not in FINISHED
        and is_allowed(ctx.principal, Action.TERMINATE_RUN, run.code_location),
        "can_reexecute": run.status in FINISHED
        and is_allowed(ctx.principal, Action.LAUNCH_RUN, run.code_location),
    }


@console_view()
def run_detail(request: HttpRequest, ctx: ConsoleContext, run_id: str) -> HttpResponse:
    return render(request, "console/run_detail.html", _context(ctx, _run(ctx, run_id)))


@console_view()
def run_live(request: HttpRequest, ctx: ConsoleContext, run_id: str) -> HttpResponse:
    """The live part of the run page (status, steps, log), polled while the run is going."""
    return render(request, "console/run_live.html", _context(ctx, _run(ctx, run_id)))


@require_POST
@console_view()
def run_terminate(request: HttpRequest, ctx: ConsoleContext, run_id: str) -> HttpResponse:
    run = _run(ctx, run_id)
    try:
        services.terminate_run(ctx=ctx, run=run, reason="terminated from the console")
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except AssayError as exc:
        messages.error(request, exc.message)
    return redirect(
        "console:run",
        org=ctx.organization.slug,
        deployment=ctx.deployment_required.name,
        run_id=run.pk,
    )


@require_POST
@console_view()
def run_reexecute(request: HttpRequest, ctx: ConsoleContext, run_id: str) -> HttpResponse:
    """A new run of the same selection and partitions in the same location."""
    run = _run(ctx, run_id)
    try:
        again = services.launch_run(
            ctx=ctx,
            deployment=ctx.deployment_required,
            location=run.code_location,
            selection=run.selection,
            partition_key=run.partition_key,
            partition_range=(run.partition_range_start, run.partition_range_end)
            if run.partition_range_start
            else None,
            tags=run.tags,
        )
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except AssayError as exc:
        messages.error(request, exc.message)
        return redirect(
            "console:run",
            org=ctx.organization.slug,
            deployment=ctx.deployment_required.name,
            run_id=run.pk,
        )
    return redirect(
        "console:run",
        org=ctx.organization.slug,
        deployment=ctx.deployment_required.name,
        run_id=again.pk,
    )
