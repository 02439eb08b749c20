"""A code location with dynamic partitions (``customers``, added by a sensor in real life):
``invoices`` per customer, ``usage`` per day and customer, ``yearly_invoices`` per customer
with a single-run backfill policy."""

from __future__ import annotations

from assay import (
    BackfillPolicy,
    DailyPartitionsDefinition,
    Definitions,
    DynamicPartitionsDefinition,
    MultiPartitionsDefinition,
    asset,
)
from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions
from control_plane.core.context import TenantContext, tenant_context
from control_plane.tenancy.models import CodeLocation, Deployment
from tests.control_plane.factories import load_location

customers = DynamicPartitionsDefinition(name="customers")
days = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-02-01")


@asset(partitions_def=customers)
def invoices(context) -> str:
    return context.partition_key


@asset(partitions_def=MultiPartitionsDefinition({"date": days, "customer": customers}))
def usage(context) -> str:
    return context.partition_key


@asset(partitions_def=customers, backfill_policy=BackfillPolicy.single_run())
def yearly_invoices(context) -> dict:
    return {key: 1 for key in context.partition_keys}  # a single run covers many customers


DEFINITIONS = Definitions(assets=[invoices, usage, yearly_invoices])


def load_crm(
    ctx: TenantContext, deployment: Deployment, *, customer_keys: list[str]
) -> CodeLocation:
    """Code location ``crm`` loaded, with ``customer_keys`` registered as customers."""
    location = load_location(ctx, deployment=deployment, name="crm", definitions=DEFINITIONS)
    with tenant_context(ctx):
        DeploymentDynamicPartitions(deployment).add_dynamic_partitions("customers", customer_keys)
    return location
