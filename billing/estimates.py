"""Credit estimates before launching: a backfill costs one credit per asset partition it
plans (partitions times assets), priced at the organization's plan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from billing.plans import CENT, plan_of
from control_plane.backfills.planning import BackfillRequest, plan_request
from control_plane.core.context import TenantContext
from control_plane.core.errors import AssayError
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
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
