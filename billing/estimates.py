"""Credit estimates before launching: a backfill costs one credit per asset partition it
plans (partitions times assets), priced at the organization's plan."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.utils import timezone

from billing.plans import CENT, plan_of
from control_plane.backfills.planning import BackfillRequest, plan_request
from control_plane.core.context import TenantContext
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
