"""The MCP tools: thin adapters over the catalog, runs, automation and alerts reads and the
run launcher, like the REST views (and shaped by the same serializers where one exists).

Every tool runs in the token's organization and in one deployment of it (``deployment``;
by default the one a narrowed token names, else ``prod``), checks the caller's role there
exactly as the REST API does, and turns the control plane's typed errors into tool errors
whose message says what to change. The SDK validates arguments against their types first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated, Any

from django.db import close_old_connections
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import ToolAnnotations
from pydantic import Field

from assay.execution.events import EventType
from control_plane.core.context import TenantContext, tenant_context
from control_plane.core.errors import AssayError, NotFound
from control_plane.mcp_server.auth import current_caller
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

DEFAULT_DEPLOYMENT = "prod"
FAILURE_EVENTS = (EventType.STEP_FAILED, EventType.RUN_FAILED)

Deployment_ = Annotated[
    str | None,
    Field(
        description="Deployment name; default: the token's deployment, else 'prod'.",
        max_length=100,
    ),
]
AssetKey = Annotated[
    str, Field(description="Asset key as shown in the catalog, e.g. 'sales/orders'.", min_length=1)
]
Limit = Annotated[int, Field(ge=1, le=100, description="At most this many results.")]
Offset = Annotated[int, Field(ge=0, description="Skip this many results (paging).")]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)


def _error_text(error: AssayError) -> str:
    fields = getattr(error, "fields", None) or {}
    details = "; ".join(f"{name}: {' '.join(map(str, msgs))}" for name, msgs in fields.items())
    return f"{error.message} ({details})" if details and details != error.message else error.message


@contextlib.contextmanager
def in_deployment(name: str | None, *, action: Action = Action.VIEW) -> Iterator[TenantContext]:
    """The caller's tenant context in deployment ``name``, after checking ``action`` there."""
    from control_plane.tenancy.queries import get_deployment, organization_for_principal

    caller = current_caller()
    principal = caller.principal
    token = principal.token
    if token is None:
        raise ToolError("the MCP server serves callers with a user token only")
    close_old_connections()
    try:
        organization = organization_for_principal(slug=token.organization.slug, principal=principal)
        ctx = TenantContext(
            organization=organization,
            principal=principal,
            ip=caller.ip,
            user_agent=caller.user_agent or "mcp",
        )
        with tenant_context(ctx):
            if name is None and token.deployment_id is not None:
                ctx.deployment = Deployment.objects.get(pk=token.deployment_id)
            else:
                ctx.deployment = get_deployment(name=name or DEFAULT_DEPLOYMENT)
            if action is not Action.VIEW:
                authorize(principal, Action.VIEW, ctx.deployment_required)
            authorize(principal, action, ctx.deployment_required)
            yield ctx
    except AssayError as error:
        raise ToolError(_error_text(error)) from None
    finally:
        close_old_connections()


def search_assets(
    query: Annotated[
        str,
        Field(
            description="Words to find in asset keys, descriptions, groups, owners, kinds, "
            "tags, column names and metadata keys; every word must match (as a prefix).",
            min_length=1,
            max_length=500,
        ),
    ],
    deployment: Deployment_ = None,
    limit: Limit = 20,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Search the asset catalog; best matches first (key matches rank highest)."""
    from control_plane.catalog import search

    with in_deployment(deployment) as ctx:
        page = search.search_assets(
            deployment=ctx.deployment_required, query=query, limit=limit, offset=offset
        )
        end = offset + len(page.results)
        return {
            "count": page.count,
            "next_offset": end if end < page.count else None,
            "results": page.results,
        }


def list_assets(
    deployment: Deployment_ = None,
    location: Annotated[str | None, Field(description="Only this code location.")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> dict[str, Any]:
    """Assets of the deployment by key, with latest materialization, partition and check
    status."""
    from control_plane.catalog import queries

    with in_deployment(deployment) as ctx:
        assets = queries.list_assets(deployment=ctx.deployment_required, location=location)
        page = [
            {
                "key": a["key"],
                "code_location": a["code_location"],
                "group": a["group"],
                "latest_materialization": a["latest_materialization"],
                "partitions": a["partitions"],
                "failed_checks": [c["name"] for c in a["checks"] if not c["passed"]],
                "freshness": (a["freshness"] or {}).get("status"),
            }
            for a in assets[offset : offset + limit]
        ]
        end = offset + len(page)
        return {
            "count": len(assets),
            "next_offset": end if end < len(assets) else None,
            "results": page,
        }


def describe_asset(asset_key: AssetKey, deployment: Deployment_ = None) -> dict[str, Any]:
    """One asset: status, partitions, checks, freshness, owners, description, metadata
    (including any column lineage it carries), and its lineage up and down with the blast
    radius (how many assets downstream a failure here would hold back)."""
    from control_plane.catalog import queries
    from control_plane.catalog.models import AssetDefinition

    with in_deployment(deployment) as ctx:
        described = queries.asset_with_lineage(
            deployment=ctx.deployment_required, asset_key=asset_key
        )
        definition = (
            AssetDefinition.objects.filter(
                deployment=ctx.deployment_required,
                asset_key=described["key"],
                snapshot__is_current=True,
            )
            .order_by("-snapshot_id")
            .first()
        )
        if definition is None:  # asset_with_lineage found it current a moment ago
            raise NotFound(f"asset {asset_key!r} not found")
        return {
            **described,
            "description": definition.description,
            "owners": definition.owners,
            "kinds": definition.kinds,
            "tags": definition.tags,
            "metadata": definition.metadata,
            "blast_radius": len(described["downstream"]),
        }


def explain_automation(
    asset_key: AssetKey,
    deployment: Deployment_ = None,
    limit: Annotated[int, Field(ge=1, le=20, description="Newest evaluations to show.")] = 3,
) -> dict[str, Any]:
    """Why declarative automation did or did not request the asset: its newest
    evaluations, newest first, each with the condition tree's verdicts."""
    from control_plane.automation import evaluations
    from control_plane.automation.api.declarative_serializers import EvaluationSerializer

    with in_deployment(deployment) as ctx:
        found = evaluations.evaluations_of_asset(
            deployment=ctx.deployment_required, asset_key=asset_key
        )
        rows = list(found.order_by("-id")[:limit])
        return {"asset_key": asset_key, "evaluations": EvaluationSerializer(rows, many=True).data}


def list_runs(
    deployment: Deployment_ = None,
    status: Annotated[
        str | None, Field(description="Only runs in this status, e.g. FAILURE or QUEUED.")
    ] = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Runs of the deployment, newest first."""
    from control_plane.runs import queries
    from control_plane.runs.api.serializers import RunSerializer
    from control_plane.runs.models import RunStatus

    if status is not None and status not in RunStatus.values:
        raise ToolError(f"status must be one of {', '.join(RunStatus.values)}")
    with in_deployment(deployment) as ctx:
        runs = queries.runs_of(deployment=ctx.deployment_required, status=status).order_by(
            "-created_at"
        )
        return {"results": RunSerializer(runs[:limit], many=True).data}


def get_run(
    run_id: Annotated[str, Field(description="The run's id (a UUID).")],
    deployment: Deployment_ = None,
    failures_only: Annotated[
        bool, Field(description="Only the events that report a failure.")
    ] = False,
    event_limit: Annotated[int, Field(ge=0, le=500, description="Events to include.")] = 100,
) -> dict[str, Any]:
    """One run with its event log (oldest first) and its failures."""
    from control_plane.runs import queries
    from control_plane.runs.api.serializers import EventSerializer, RunSerializer

    with in_deployment(deployment) as ctx:
        run = queries.get_run(deployment=ctx.deployment_required, run_id=run_id)
        events = queries.events_of(run=run).order_by("id")
        failures = events.filter(event_type__in=FAILURE_EVENTS)
        shown = failures if failures_only else events
        return {
            "run": RunSerializer(run).data,
            "failures": EventSerializer(failures[:50], many=True).data,
            "event_count": events.count(),
            "events": EventSerializer(shown[:event_limit], many=True).data,
        }


def launch_materialization(
    location: Annotated[str, Field(description="Code location of the assets.", min_length=1)],
    selection: Annotated[
        str,
        Field(
            description="Asset selection, e.g. 'sales/orders', 'sales/orders+' or 'group:sales'.",
            min_length=1,
            max_length=2000,
        ),
    ],
    deployment: Deployment_ = None,
    partition_key: Annotated[str | None, Field(description="One partition to run.")] = None,
    tags: Annotated[dict[str, str] | None, Field(description="Run tags.")] = None,
) -> dict[str, Any]:
    """Queue a run materializing the selection (Launcher role or higher; audited as
    ``run.launch`` like any launch)."""
    from control_plane.runs import services
    from control_plane.runs.api.serializers import RunSerializer
    from control_plane.tenancy.queries import get_code_location

    with in_deployment(deployment, action=Action.LAUNCH_RUN) as ctx:
        code_location = get_code_location(deployment=ctx.deployment_required, name=location)
        run = services.launch_run(
            ctx=ctx,
            deployment=ctx.deployment_required,
            location=code_location,
            selection=selection,
            partition_key=partition_key or "",
            tags={"assay/launched_via": "mcp", **(tags or {})},
        )
        return {"run": RunSerializer(run).data}


def launch_backfill(
    selection: Annotated[
        str, Field(description="Asset selection to backfill.", min_length=1, max_length=2000)
    ],
    location: Annotated[
        str | None, Field(description="Code location; default: wherever the assets are.")
    ] = None,
    deployment: Deployment_ = None,
    partition_start: Annotated[str | None, Field(description="First partition key.")] = None,
    partition_end: Annotated[str | None, Field(description="Last partition key.")] = None,
    partition_keys: Annotated[
        list[str] | None, Field(description="These partition keys.", max_length=10_000)
    ] = None,
    all_missing: Annotated[bool, Field(description="Every partition never materialized.")] = (
        False
    ),
    confirm: Annotated[
        bool, Field(description="False: only plan it and show the estimate. True: launch it.")
    ] = False,
) -> dict[str, Any]:
    """Plan a backfill and show its estimate (runs and asset partitions it would
    materialize); with ``confirm`` launch it (Launcher role; audited as ``backfill.launch``).
    Give partition_start and partition_end, partition_keys, or all_missing."""
    from django.utils import timezone

    from control_plane.backfills import services
    from control_plane.backfills.planning import BackfillRequest, plan_request
    from control_plane.tenancy.permissions import is_allowed

    if (partition_start is None) != (partition_end is None):
        raise ToolError("give both partition_start and partition_end, or neither")
    request = BackfillRequest(
        selection=selection,
        location_name=location or "",
        partition_range=(partition_start, partition_end)
        if partition_start is not None and partition_end is not None
        else None,
        partition_keys=tuple(partition_keys) if partition_keys is not None else None,
        all_missing=all_missing,
    )
    with in_deployment(deployment) as ctx:
        stored = plan_request(
            deployment=ctx.deployment_required, request=request, now=timezone.now()
        )
        estimate = {
            "runs": len(stored.state.runs),
            "asset_partitions": stored.state.plan.num_partitions,
            "code_locations": sorted(stored.locations()),
        }
        if not confirm:
            return {
                "launched": False,
                "estimate": estimate,
                "may_launch": is_allowed(
                    ctx.principal, Action.LAUNCH_BACKFILL, ctx.deployment_required
                ),
            }
        backfill = services.launch_backfill(
            ctx=ctx,
            deployment=ctx.deployment_required,
            request=request,
            tags={"assay/launched_via": "mcp"},
        )
        return {
            "launched": True,
            "estimate": estimate,
            "backfill": {"id": str(backfill.pk), "status": backfill.status},
        }


def list_incidents(
    deployment: Deployment_ = None,
    status: Annotated[str | None, Field(description="'open' or 'resolved'; default: both.")] = None,
    limit: Limit = 20,
) -> dict[str, Any]:
    """Alert incidents of the deployment (failed runs and checks, stale assets, agents
    gone), newest first."""
    from control_plane.alerts import queries
    from control_plane.alerts.api.serializers import IncidentSerializer

    if status is not None and status not in queries.INCIDENT_STATUSES:
        raise ToolError(f"status must be one of {', '.join(queries.INCIDENT_STATUSES)}")
    with in_deployment(deployment) as ctx:
        incidents = queries.incidents_of(deployment=ctx.deployment_required, status=status)
        return {"results": IncidentSerializer(incidents.order_by("-id")[:limit], many=True).data}


READ_TOOLS = (
    search_assets,
    list_assets,
    describe_asset,
    explain_automation,
    list_runs,
    get_run,
    list_incidents,
)


def build_server() -> MCPServer:
    """The MCP server with every tool registered."""
    server = MCPServer(
        "assay",
        instructions=(
            "Assay's data catalog and run queue. Search or list assets, describe one "
            "(status, checks, freshness, lineage), explain automation, inspect runs and "
            "incidents, and launch materializations when your role allows."
        ),
    )
    for tool in READ_TOOLS:
        server.add_tool(tool, annotations=READ_ONLY, structured_output=False)
    for launcher in (launch_materialization, launch_backfill):
        server.add_tool(
            launcher,
            annotations=ToolAnnotations(destructive_hint=False, idempotent_hint=False),
            structured_output=False,
        )
    return server
