"""Factories for catalog and runs objects: loaded code locations, queued runs, agent tokens."""

from __future__ import annotations

from assay import (
    AssetCheckResult,
    DailyPartitionsDefinition,
    Definitions,
    ScheduleDefinition,
    SkipReason,
    asset,
    asset_check,
    sensor,
)
from assay.snapshot import build_snapshot
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.runs import services as run_services
from control_plane.runs.models import Run
from control_plane.tenancy import services
from control_plane.tenancy.models import CodeLocation, Deployment


@asset(group_name="sales")
def raw_orders() -> list:
    return []


@asset(group_name="sales")
def clean_orders(raw_orders: list) -> list:
    return raw_orders


@asset(group_name="reports")
def revenue_report(clean_orders: list) -> int:
    return 0


@asset(
    group_name="reports",
    partitions_def=DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01"),
)
def daily_orders() -> int:
    return 0


@asset_check(asset=clean_orders)
def orders_not_empty(clean_orders: list) -> AssetCheckResult:
    return AssetCheckResult(passed=True)


nightly_orders = ScheduleDefinition(
    name="nightly_orders", cron_schedule="0 2 * * *", target="raw_orders+"
)


@sensor(target=raw_orders, minimum_interval_seconds=60)
def new_order_files():
    return SkipReason("no new files")


DEFINITIONS = Definitions(
    assets=[raw_orders, clean_orders, revenue_report, daily_orders],
    asset_checks=[orders_not_empty],
    schedules=[nightly_orders],
    sensors=[new_order_files],
)


def snapshot_json(definitions: Definitions = DEFINITIONS) -> tuple[bytes, str]:
    snapshot = build_snapshot(definitions)
    return snapshot.to_json().encode(), snapshot.snapshot_id


def agent_ctx(ctx: TenantContext) -> TenantContext:
    return TenantContext(organization=ctx.organization, principal=Principal.system("agent"))


def load_location(
    ctx: TenantContext,
    *,
    deployment: Deployment,
    name: str,
    definitions: Definitions = DEFINITIONS,
) -> CodeLocation:
    """A code location as an agent registers it: with the snapshot of ``definitions`` (by
    default the assets above)."""
    data, snapshot_id = snapshot_json(definitions)
    with tenant_context(ctx):
        record_location_snapshot(
            ctx=agent_ctx(ctx),
            deployment=deployment,
            location_name=name,
            ok=True,
            snapshot_json=data,
            snapshot_id=snapshot_id,
            snapshot_version=1,
        )
        return CodeLocation.objects.get(deployment=deployment, name=name)


def queue_run(ctx: TenantContext, *, location: CodeLocation, **kwargs) -> Run:
    kwargs.setdefault("selection", "raw_orders")
    with tenant_context(ctx):
        return run_services.launch_run(
            ctx=ctx, deployment=location.deployment, location=location, **kwargs
        )


def agent_token(ctx: TenantContext, *, deployments: list[Deployment]) -> str:
    with tenant_context(ctx):
        _, secret = services.create_agent_token(ctx=ctx, name="agent", deployments=deployments)
    return secret
