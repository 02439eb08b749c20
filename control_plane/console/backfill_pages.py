"""The Backfills pages: a deployment's backfills with their progress, and one backfill.

Reads through ``backfills.queries`` (the API's reads; lists use the stored counts, never
the plan); cancel and resume go through ``backfills.services``, which authorize
``launch_backfill`` on every code location the backfill touches and audit, so the buttons
shown to a role that may not use them are none, and a forged POST is refused (403).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from control_plane.backfills import queries, services
from control_plane.backfills.errors import BackfillNotFound, UnreadableBackfill
from control_plane.backfills.models import Backfill
from control_plane.backfills.models import BackfillStatus as Status
from control_plane.console.access import ConsoleContext, console_view
from control_plane.core.errors import AssayError, Forbidden
from control_plane.tenancy.models import CodeLocation
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.roles import Action

PER_PAGE = 25
PROBLEMS_SHOWN = 50
PARTITIONS_SHOWN = 200


@dataclass(frozen=True)
class Progress:
    """Asset partitions of a backfill by outcome, from its stored counts."""

    done: int
    failed: int
    skipped: int
    canceled: int
    total: int

    @classmethod
    def of(cls, backfill: Backfill) -> Progress:
        counts = backfill.partition_counts or {}
        return cls(
            done=counts.get("succeeded", 0),
            failed=counts.get("failed", 0),
            skipped=counts.get("skipped", 0),
            canceled=counts.get("canceled", 0),
            total=sum(counts.values()),
        )

    def _percent(self, n: int) -> float:
        return round(100 * n / self.total, 1) if self.total else 0.0

    @property
    def done_percent(self) -> float:
        return self._percent(self.done)

    @property
    def failed_percent(self) -> float:
        return self._percent(self.failed + self.skipped)


def _may_change(ctx: ConsoleContext, backfill: Backfill) -> bool:
    """Whether to offer cancel/resume: ``launch_backfill`` on its location (or deployment);
    the service checks every location the plan touches."""
    if backfill.location_name:
        location = CodeLocation.objects.filter(
            deployment=ctx.deployment_required, name=backfill.location_name
        ).first()
        if location is not None:
            return is_allowed(ctx.principal, Action.LAUNCH_BACKFILL, location)
    return is_allowed(ctx.principal, Action.LAUNCH_BACKFILL, ctx.deployment_required)


def _readable(ctx: ConsoleContext, backfill: Backfill) -> bool:
    return not backfill.location_name or ctx.reads_location(backfill.location_name)


@console_view()
def backfill_list(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Newest first, filtered by status (``?status=failed``), a page at a time."""
    wanted = request.GET.get("status", "")
    if wanted not in Status.values:
        wanted = ""
    found = queries.backfills_of(deployment=ctx.deployment_required, status=wanted or None)
    if ctx.locations is not None:
        found = found.filter(location_name__in=list(ctx.locations.values()))
    page = Paginator(found.order_by("-created_at"), PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/backfills.html",
        {
            "page": page,
            "rows": [{"backfill": b, "progress": Progress.of(b)} for b in page],
            "status": wanted,
            "statuses": Status.values,
        },
    )


@console_view()
def backfill_detail(request: HttpRequest, ctx: ConsoleContext, backfill_id: str) -> HttpResponse:
    """Progress, the planned runs that failed, were skipped or canceled (and why), and the
    first asset partitions with their status."""
    backfill = _get(ctx, backfill_id)
    problems: list[queries.PlannedRunView] = []
    partitions: list[queries.PartitionView] = []
    problem_count, unreadable = 0, False
    try:
        stored = queries.stored_state(backfill)
    except UnreadableBackfill:
        unreadable = True
    else:
        problems, problem_count = queries.problems(stored, limit=PROBLEMS_SHOWN)
        for view in queries.partitions(stored):
            partitions.append(view)
            if len(partitions) >= PARTITIONS_SHOWN:
                break
    progress = Progress.of(backfill)
    may_change = _may_change(ctx, backfill)
    return render(
        request,
        "console/backfill_detail.html",
        {
            "backfill": backfill,
            "progress": progress,
            "problems": problems,
            "problem_count": problem_count,
            "partitions": partitions,
            "partitions_more": max(progress.total - len(partitions), 0),
            "unreadable": unreadable,
            "can_cancel": may_change and backfill.status == Status.REQUESTED,
            "can_resume": may_change
            and not backfill.is_active
            and (backfill.status == Status.CANCELED or progress.canceled > 0),
        },
    )


def _get(ctx: ConsoleContext, backfill_id: str) -> Backfill:
    try:
        backfill = queries.get_backfill(deployment=ctx.deployment_required, backfill_id=backfill_id)
    except BackfillNotFound:
        raise Http404("backfill not found") from None
    if not _readable(ctx, backfill):
        raise Http404("backfill not found")
    return backfill


def _change(request: HttpRequest, ctx: ConsoleContext, backfill_id: str, how: str) -> HttpResponse:
    backfill = _get(ctx, backfill_id)
    try:
        if how == "cancel":
            services.cancel_backfill(ctx=ctx, backfill=backfill)
            messages.success(request, "Backfill canceled: nothing new launches.")
        else:
            services.resume_backfill(ctx=ctx, backfill=backfill)
            messages.success(request, "Backfill resumed.")
    except Forbidden as exc:
        raise PermissionDenied(exc.message) from None
    except AssayError as exc:
        messages.error(request, exc.message)
    return redirect(
        "console:backfill",
        org=ctx.organization.slug,
        deployment=ctx.deployment_required.name,
        backfill_id=backfill.pk,
    )


@require_POST
@console_view()
def backfill_cancel(request: HttpRequest, ctx: ConsoleContext, backfill_id: str) -> HttpResponse:
    return _change(request, ctx, backfill_id, "cancel")


@require_POST
@console_view()
def backfill_resume(request: HttpRequest, ctx: ConsoleContext, backfill_id: str) -> HttpResponse:
    return _change(request, ctx, backfill_id, "resume")
