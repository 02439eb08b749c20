"""The console's page for a branch deployment: what changed against its base, and launch it."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from control_plane.branches.diff import branch_diff, keys_by_location
from control_plane.branches.models import BranchDeployment
from control_plane.console.access import console_view
from control_plane.core.context import TenantContext


@console_view()
def diff_page(request: HttpRequest, ctx: TenantContext) -> HttpResponse:
    """New, changed and removed assets with their blast radius in the base and the cost."""
    branch = (
        BranchDeployment.objects.select_related("base").filter(deployment=ctx.deployment).first()
    )
    if branch is None:
        raise Http404("this deployment is not a branch deployment")
    diff, state = branch_diff(branch)
    launches: dict[str, str] = {}
    changed_selection = ""
    if diff is not None and diff.changed_keys and branch.deployment is not None:
        changed = set(diff.changed_keys)
        changed_selection = ", ".join(diff.changed_keys)
        launches = {
            location: ", ".join(keys)
            for location, keys in keys_by_location(branch.deployment, changed).items()
        }
    rows = []
    if diff is not None:
        rows = [*diff.new, *diff.changed, *diff.removed]
    return render(
        request,
        "branches/diff.html",
        {
            "branch": branch,
            "diff": diff,
            "rows": rows,
            "state": state,
            "launches": sorted(launches.items()),
            "changed_selection": changed_selection,
            "read_only": branch.status != BranchDeployment.Status.OPEN,
        },
    )
