"""Asset pages: the graph, the catalog, one asset, and launching a materialization.

Views read through the catalog's queries and the deployment graph the daemon also uses;
launches go through ``runs.services.launch_run`` and ``backfills.services.launch_backfill``,
which authorize again (a forged POST is refused there too).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from assay.definitions.asset_key import AssetKey
from assay.errors import InvalidSelection
from assay.partitions import MultiPartitionKey, MultiPartitionsDefinition
from assay.selection import select_keys
from control_plane.backfills import services as backfill_services
from control_plane.backfills.planning import BackfillRequest
from control_plane.branches.diff import branch_of, changed_in_branch
from control_plane.catalog.deployment_graph import deployment_graph
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.catalog.freshness import judge_freshness
from control_plane.catalog.models import AssetPartitionStatus, CheckEvaluation, Materialization
from control_plane.console.access import ConsoleContext, console_view
from control_plane.console.asset_status import STATUSES, asset_rows, statuses
from control_plane.console.graph_layout import MAX_NODES, layout
from control_plane.console.launch_plan import whole_range
from control_plane.core import hooks
from control_plane.core.errors import AssayError, Forbidden
from control_plane.runs import services as run_services
from control_plane.tenancy.permissions import is_allowed
from control_plane.tenancy.queries import get_code_location
from control_plane.tenancy.roles import Action

CATALOG_PAGE = 50


def _graph(ctx: ConsoleContext):
    found = deployment_graph(deployment=ctx.deployment_required)
    return found.graph if found is not None else None


def _places(ctx: ConsoleContext) -> dict[str, tuple[str, str]]:
    """Each current asset's (code location, group), from the cached deployment graph; only
    the assets of the code locations the principal may read."""
    found = deployment_graph(deployment=ctx.deployment_required)
    if found is None:
        return {}
    return {
        key.to_user_string(): (found.location_of[key], node.spec.group_name or "default")
        for key, node in found.graph.nodes.items()
        if key in found.location_of and ctx.reads_location(found.location_of[key])
    }


def _select(graph, text: str, places: dict[str, tuple[str, str]]) -> set[str]:
    """The keys ``text`` selects, among the readable ones (``places``)."""
    return {k.to_user_string() for k in select_keys(graph, text)} & places.keys()


@console_view()
def asset_graph(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Groups (code location / group) with their statuses, or the laid-out subgraph of a
    selection or a focus; never the whole graph of a large deployment."""
    graph = _graph(ctx)
    places = _places(ctx)
    words = statuses(deployment=ctx.deployment_required, keys=places)
    selection = request.GET.get("select", "").strip()
    focus = request.GET.get("focus", "").strip()
    blast = request.GET.get("blast", "").strip()
    up, down = _levels(request.GET.get("up")), _levels(request.GET.get("down"))
    error = ""
    shown: set[str] | None = None
    if graph is not None:
        try:
            if focus:
                shown = _select(graph, f"{up}+{focus}+{down}", places)
            elif selection:
                shown = _select(graph, selection, places)
            elif len(places) <= MAX_NODES:
                shown = set(places)
        except InvalidSelection as exc:
            error = str(exc)
    blast_keys: set[str] = set()
    if graph is not None and blast:
        try:
            blast_keys = _select(graph, f"{blast}+", places)
        except InvalidSelection as exc:
            error = str(exc)
    groups: Counter[tuple[str, str]] = Counter()
    group_status: dict[tuple[str, str], Counter] = {}
    for key, where in places.items():
        groups[where] += 1
        group_status.setdefault(where, Counter())[words[key]] += 1
    placed = None
    rows = {}
    too_many = 0
    if shown is not None:
        if len(shown) > MAX_NODES:
            too_many = len(shown)
        else:
            rows = asset_rows(deployment=ctx.deployment_required, keys=shown)
            parents = {k: graph.nodes[AssetKey.from_user_string(k)].parents for k in shown}
            placed = layout(
                shown,
                {
                    k: [p.to_user_string() for p in ps if p.to_user_string() in places]
                    for k, ps in parents.items()
                },
            )
    return render(
        request,
        "console/asset_graph.html",
        {
            "rows": rows,
            "placed": placed,
            "too_many": too_many,
            "error": error,
            "selection": selection,
            "focus": focus,
            "up": up,
            "down": down,
            "blast": blast,
            "blast_keys": blast_keys,
            "blast_count": max(len(blast_keys) - 1, 0),
            "groups": [
                {
                    "location": loc,
                    "group": grp,
                    "count": n,
                    "statuses": [(s, group_status[(loc, grp)][s]) for s in STATUSES],
                }
                for (loc, grp), n in sorted(groups.items())
            ],
            "total": len(places),
            "max_nodes": MAX_NODES,
        },
    )


def _levels(value: str | None) -> int:
    try:
        return max(0, min(int(value or 2), 10))
    except ValueError:
        return 2


@console_view()
def catalog(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """Assets filtered by key, group, owner, kind, tag, code location and status."""
    graph = _graph(ctx)
    places = _places(ctx)
    words = statuses(deployment=ctx.deployment_required, keys=places)
    q = request.GET
    wanted = {name: q.get(name, "").strip() for name in ("key", "group", "owner", "kind", "tag")}
    location, status = q.get("location", ""), q.get("status", "")
    branch = branch_of(ctx.deployment_required)
    changed = changed_in_branch(branch) if branch is not None and q.get("changed") else None
    matched = []
    for key in sorted(places):
        code_location, group = places[key]
        spec = graph.nodes[AssetKey.from_user_string(key)].spec
        if changed is not None and key not in changed:
            continue
        if wanted["key"] and wanted["key"].lower() not in key.lower():
            continue
        if wanted["group"] and group != wanted["group"]:
            continue
        if location and code_location != location:
            continue
        if status and words[key] != status:
            continue
        if wanted["owner"] and wanted["owner"] not in spec.owners:
            continue
        if wanted["kind"] and wanted["kind"] not in spec.kinds:
            continue
        if wanted["tag"]:
            tag_key, _, tag_value = wanted["tag"].partition("=")
            if tag_key not in spec.tags or (tag_value and spec.tags[tag_key] != tag_value):
                continue
        matched.append((key, spec))
    page = Paginator(matched, CATALOG_PAGE).get_page(q.get("page"))
    rows = asset_rows(deployment=ctx.deployment_required, keys=[key for key, _ in page.object_list])
    return render(
        request,
        "console/catalog.html",
        {
            "page": page,
            "entries": [(rows[key], spec) for key, spec in page.object_list if key in rows],
            "count": len(matched),
            "filters": {**wanted, "location": location, "status": status},
            "is_branch": branch is not None,
            "changed_only": changed is not None,
            "locations": sorted({loc for loc, _ in places.values()}),
            "groups": sorted({group for _, group in places.values()}),
            "statuses": STATUSES,
            "query": _without_page(request),
        },
    )


def _without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()


@console_view()
def asset_detail(request: HttpRequest, ctx: ConsoleContext, key: str) -> HttpResponse:
    graph = _graph(ctx)
    asset_key = AssetKey.from_user_string(key.strip("/"))
    node = graph.nodes.get(asset_key) if graph else None
    row = asset_rows(deployment=ctx.deployment_required, keys=[asset_key.to_user_string()]).get(
        asset_key.to_user_string()
    )
    if node is None or row is None or not ctx.reads_location(row.info["code_location"]):
        raise Http404("asset not found")
    spec = node.spec
    places = _places(ctx)
    info = {
        **row.info,
        "upstream": sorted(
            {k.to_user_string() for k in graph.upstream({asset_key}, include_self=False)}
            & places.keys()
        ),
        "downstream": sorted(
            {k.to_user_string() for k in graph.downstream({asset_key}, include_self=False)}
            & places.keys()
        ),
        "freshness": _freshness(ctx, row.key),
    }
    materializations = list(
        Materialization.objects.filter(
            deployment=ctx.deployment_required, asset_key=info["key"]
        ).order_by("-timestamp")[:10]
    )
    checks = list(
        CheckEvaluation.objects.filter(
            deployment=ctx.deployment_required, asset_key=info["key"]
        ).order_by("-timestamp")[:20]
    )
    evaluation = _latest_evaluation(ctx, info["key"])
    location = get_code_location(deployment=ctx.deployment_required, name=info["code_location"])
    heatmap = _heatmap(ctx, info["key"], spec) if spec and spec.partitions_def else None
    return render(
        request,
        "console/asset_detail.html",
        {
            "asset": info,
            "row": row,
            "spec": spec,
            "materializations": materializations,
            "check_history": checks,
            "evaluation": evaluation,
            "explanation_lines": _explain(evaluation.explanation) if evaluation else [],
            "heatmap": heatmap,
            "can_launch": is_allowed(ctx.principal, Action.LAUNCH_RUN, location),
            "can_backfill": is_allowed(ctx.principal, Action.LAUNCH_BACKFILL, location),
            "automation_condition": _condition_label(spec),
            "column_lineage": _column_lineage(spec, places),
        },
    )


def _column_lineage(spec, places: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    """Each column and the upstream columns feeding it; an upstream is linked only when its
    code location is one the principal may read (``places``)."""
    return [
        {
            "column": column,
            "upstream": [
                {
                    "asset": d.asset_key.to_user_string(),
                    "column": d.column_name,
                    "readable": d.asset_key.to_user_string() in places,
                }
                for d in deps
            ],
        }
        for column, deps in (getattr(spec, "column_lineage", None) or {}).items()
    ]


def _freshness(ctx: ConsoleContext, key: str) -> dict[str, Any] | None:
    for line in judge_freshness(
        deployment=ctx.deployment_required, now=timezone.now(), asset_keys=[key]
    ):
        return {
            "status": line.status.value,
            "overdue_minutes": line.overdue_minutes,
            "maximum_lag_minutes": line.policy.maximum_lag_minutes,
        }
    return None


def _condition_label(spec) -> str:
    condition = getattr(spec, "automation_condition", None)
    if condition is None:
        return ""
    return getattr(condition, "label", None) or str(condition)


def _latest_evaluation(ctx: ConsoleContext, key: str):
    from control_plane.automation.models import AutomationEvaluation

    return (
        AutomationEvaluation.objects.filter(deployment=ctx.deployment_required, asset_key=key)
        .order_by("-id")
        .first()
    )


def _explain(tree: Any, depth: int = 0) -> list[dict[str, Any]]:
    """The SDK's explanation tree (``ConditionResult.to_dict``) as indented lines: each
    condition, true or not, on how many of its candidates."""
    if not isinstance(tree, dict):
        return []
    evaluated = tree.get("evaluated", True)
    detail = f"{tree.get('true', 0)} of {tree.get('candidates', 0)}" if evaluated else "not needed"
    if tree.get("partitions"):
        detail += ": " + ", ".join(str(k) for k in tree["partitions"])
    lines = [
        {
            "depth": depth,
            "indent": "\u2003" * depth,
            "label": tree.get("condition", "condition"),
            "true": bool(tree.get("true")),
            "detail": detail,
        }
    ]
    for child in tree.get("children") or []:
        lines.extend(_explain(child, depth + 1))
    return lines


HEATMAP_MAX = 400
GRID_ROWS_MAX = 40
GRID_COLUMNS_MAX = 60


def _heatmap(ctx: ConsoleContext, key: str, spec) -> dict[str, Any]:
    """The latest outcome per partition (the last ``HEATMAP_MAX`` keys): one query."""
    if isinstance(spec.partitions_def, MultiPartitionsDefinition):
        return _grid(ctx, key, spec.partitions_def)
    keys = [
        str(k)
        for k in spec.partitions_def.get_partition_keys(
            timezone.now(), DeploymentDynamicPartitions(ctx.deployment_required)
        )
    ]
    total = len(keys)
    keys = keys[-HEATMAP_MAX:]
    outcome = dict(
        AssetPartitionStatus.objects.filter(
            deployment=ctx.deployment_required, asset_key=key, partition__in=keys
        ).values_list("partition", "status")
    )
    cells = [{"key": k, "status": _cell(outcome.get(k))} for k in keys]
    return {
        "cells": cells,
        "total": total,
        "first": keys[0] if keys else "",
        "last": keys[-1] if keys else "",
    }


def _grid(ctx: ConsoleContext, key: str, multi: MultiPartitionsDefinition) -> dict[str, Any]:
    """Two dimensions as rows x columns: the primary dimension's keys are the rows, the
    secondary's (the time dimension when there is one: its latest keys) the columns; each
    cell the latest outcome of that pair. One query for the drawn cells."""
    now, dynamic = timezone.now(), DeploymentDynamicPartitions(ctx.deployment_required)
    row_dim, column_dim = multi.primary_dimension, multi.secondary_dimension
    rows = [str(k) for k in row_dim.partitions_def.get_partition_keys(now, dynamic)]
    columns = [str(k) for k in column_dim.partitions_def.get_partition_keys(now, dynamic)]
    total = len(rows) * len(columns)
    rows, columns = rows[:GRID_ROWS_MAX], columns[-GRID_COLUMNS_MAX:]
    cell_key = {
        (r, c): str(MultiPartitionKey({row_dim.name: r, column_dim.name: c}))
        for r in rows
        for c in columns
    }
    outcome = dict(
        AssetPartitionStatus.objects.filter(
            deployment=ctx.deployment_required, asset_key=key, partition__in=list(cell_key.values())
        ).values_list("partition", "status")
    )
    grid = [
        {
            "key": r,
            "cells": [
                {
                    "key": cell_key[(r, c)],
                    "column": c,
                    "status": _cell(outcome.get(cell_key[(r, c)])),
                }
                for c in columns
            ],
        }
        for r in rows
    ]
    keys = [cell_key[(r, c)] for r in rows for c in columns]
    return {
        "grid": grid,
        "row_dimension": row_dim.name,
        "column_dimension": column_dim.name,
        "columns": columns,
        "cells": [cell for row in grid for cell in row["cells"]],
        "total": total,
        "first": keys[0] if keys else "",
        "last": keys[-1] if keys else "",
    }


def _cell(status: str | None) -> str:
    if status == AssetPartitionStatus.Status.MATERIALIZED:
        return "materialized"
    if status == AssetPartitionStatus.Status.FAILED:
        return "failed"
    return "missing"


@console_view()
def launch(request: HttpRequest, ctx: ConsoleContext) -> HttpResponse:
    """GET: a preview of what a selection (and partition range) would run; POST: launch."""
    data = request.POST if request.method == "POST" else request.GET
    selection = data.get("selection", "").strip()
    location_name = data.get("location", "").strip()
    start, end = data.get("start", "").strip(), data.get("end", "").strip()
    graph = _graph(ctx)
    places = _places(ctx)
    preview: list[str] = []
    error = ""
    if graph is not None and selection:
        try:
            preview = sorted(_select(graph, selection, places))
        except InvalidSelection as exc:
            error = str(exc)
    locations = sorted({places[k][0] for k in preview if k in places})
    if not location_name and len(locations) == 1:
        location_name = locations[0]
    whole = None
    if preview and not (start or end):
        whole = whole_range(graph=graph, deployment=ctx.deployment_required, keys=preview)
        if whole is not None and whole.problem and request.method == "POST":
            error = whole.problem
        elif whole is not None and request.method == "POST":
            start, end = whole.first, whole.last  # launched as a backfill of every partition
    if request.method == "POST" and not error:
        try:
            location = get_code_location(deployment=ctx.deployment_required, name=location_name)
            if start or end:
                backfill = backfill_services.launch_backfill(
                    ctx=ctx,
                    deployment=ctx.deployment_required,
                    request=BackfillRequest(
                        selection=selection,
                        location_name=location_name,
                        partition_range=(start, end or start),
                    ),
                )
                messages.success(request, f"Backfill {backfill.pk} launched.")
                return redirect(
                    "console:backfill",
                    org=ctx.organization.slug,
                    deployment=ctx.deployment_required.name,
                    backfill_id=backfill.pk,
                )
            run = run_services.launch_run(
                ctx=ctx, deployment=ctx.deployment_required, location=location, selection=selection
            )
        except Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except AssayError as exc:
            error = exc.message
        else:
            return redirect(
                "console:run",
                org=ctx.organization.slug,
                deployment=ctx.deployment_required.name,
                run_id=run.pk,
            )
    span = (start, end)
    if whole is not None and not whole.problem and not (start or end):
        span = (whole.first, whole.last)  # launching backfills the whole range: estimate that
    credit_estimate = (
        hooks.launch_estimate(
            ctx,
            deployment=ctx.deployment_required,
            selection=selection,
            location_name=location_name,
            start=span[0],
            end=span[1],
            assets=len(preview),
        )
        if preview and not error
        else ""
    )
    can_launch = any(
        is_allowed(ctx.principal, Action.LAUNCH_RUN, loc) for loc in _locations(ctx, locations)
    ) or (not locations and is_allowed(ctx.principal, Action.LAUNCH_RUN, ctx.deployment_required))
    return render(
        request,
        "console/launch.html",
        {
            "credit_estimate": credit_estimate,
            "selection": selection,
            "location": location_name,
            "locations": locations,
            "start": start,
            "end": end,
            "preview": list(
                asset_rows(deployment=ctx.deployment_required, keys=preview[:MAX_NODES]).values()
            ),
            "preview_count": len(preview),
            "error": error,
            "whole": whole,
            "can_launch": can_launch,
        },
        status=400 if error and request.method == "POST" else 200,
    )


def _locations(ctx: ConsoleContext, names: list[str]):
    from control_plane.tenancy.models import CodeLocation

    return list(CodeLocation.objects.filter(deployment=ctx.deployment_required, name__in=names))
