"""Credit estimates before launching: a backfill costs one credit per asset partition it
plans (partitions times assets), a run one per asset it materializes, priced at the
organization's plan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from assay.errors import InvalidSelection
from billing.plans import CENT, plan_of
from control_plane.backfills.planning import BackfillRequest, plan_request
from control_plane.catalog.queries import loaded_snapshot, resolve_selection
from control_plane.core.context import TenantContext
from control_plane.core.errors import AssayError, InvalidInput
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.queries import get_code_location
from control_plane.tenancy.roles import Action


@dataclass(frozen=True)
class Estimate:
    credits: int
    runs: int
    plan: str
    cost: Decimal | None  # None on plans priced by contract

    def as_dict(self) -> dict:
        return {
            "credits": self.credits,
            "runs": self.runs,
            "plan": self.plan,
            "cost": None if self.cost is None else str(self.cost),
        }


def estimate_backfill(
    *, ctx: TenantContext, deployment: Deployment, request: BackfillRequest
) -> Estimate:
    """Plan the backfill exactly as launching would (nothing is stored) and count credits."""
    authorize(ctx.principal, Action.VIEW, deployment)
    stored = plan_request(deployment=deployment, request=request, now=timezone.now())
    credits = stored.state.plan.num_partitions
    plan = plan_of(ctx.organization)
    cost = None if plan.credit_price is None else (plan.credit_price * credits).quantize(CENT)
    return Estimate(credits=credits, runs=len(stored.state.runs), plan=plan.tier, cost=cost)


def estimate_run(
    *, ctx: TenantContext, deployment: Deployment, selection: str, location_name: str
) -> Estimate:
    """An unpartitioned run: one credit per asset it would materialize (its selection
    resolved over the location's current snapshot, as launching would)."""
    authorize(ctx.principal, Action.VIEW, deployment)
    if not location_name:
        raise InvalidInput(
            "name the code location of the run", fields={"location": ["Required for a run."]}
        )
    location = get_code_location(deployment=deployment, name=location_name)
    snapshot = loaded_snapshot(location=location)
    try:
        selected = resolve_selection(snapshot=snapshot, selection=selection)
    except InvalidSelection as error:
        raise InvalidInput(str(error), fields={"selection": [str(error)]}) from None
    partitioned = [d.asset_key for d in selected if d.is_partitioned]
    if partitioned:
        raise InvalidInput(
            f"the selection includes partitioned assets ({', '.join(partitioned[:5])}): give "
            "start and end, partition_keys or all_missing to estimate their backfill",
            fields={"start": ["Required for partitioned assets."]},
        )
    credits = sum(1 for d in selected if not d.is_external)
    plan = plan_of(ctx.organization)
    cost = None if plan.credit_price is None else (plan.credit_price * credits).quantize(CENT)
    return Estimate(credits=credits, runs=1, plan=plan.tier, cost=cost)


def describe_launch(
    ctx: TenantContext,
    *,
    deployment: Deployment,
    selection: str,
    location_name: str,
    start: str = "",
    end: str = "",
    assets: int,
) -> str:
    """The console launch form's line (``core.hooks.launch_estimate``): a backfill's credits
    as planned, or a run's (one credit per asset it materializes)."""
    plan = plan_of(ctx.organization)
    if start or end:
        try:
            estimate = estimate_backfill(
                ctx=ctx,
                deployment=deployment,
                request=BackfillRequest(
                    selection=selection,
                    location_name=location_name,
                    partition_range=(start or end, end or start),
                ),
            )
        except AssayError as error:
            return f"No credit estimate: {error.message}"
        runs = f"{estimate.runs} run{'s' * (estimate.runs != 1)}"
        credits, what = estimate.credits, f" (partitions x assets, across {runs})"
    else:
        credits, what = assets, " (one per asset)"
    price = (
        ""
        if plan.credit_price is None
        else f", about ${(plan.credit_price * credits).quantize(CENT)} at the {plan.name} "
        f"plan's ${plan.credit_price} a credit"
    )
    noun = "credit" if credits == 1 else "credits"
    return f"Estimated cost: {credits} {noun}{what}{price}."
