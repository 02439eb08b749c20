"""Monthly credit budgets: alerts at 80% and 100% through the alert policies of the
organization's prod deployment (incident kind ``budget``), and an optional hard cap.

Thresholds are checked by a daemon loop over the rollups (every ``BUDGET_CHECK_SECONDS``),
not in the ingest transaction, so metering stays two writes per batch; each threshold
alerts once a month (the incident key names the month and the threshold).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from billing import audit_actions
from billing.errors import BudgetExhausted
from billing.models import Budget, DailyUsage
from billing.rollup import consistent_reads, pending_usage
from control_plane.alerts.services import open_incident
from control_plane.audit.services import record
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.core.errors import InvalidInput
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

BUDGET_CHECK_SECONDS = 60.0
THRESHOLDS = (80, 100)


def month_to_date(today: date | None = None) -> int:
    """The current organization's credits this month: rollups plus what is pending."""
    today = today or timezone.now().date()
    start = today.replace(day=1)
    with consistent_reads():
        rows = DailyUsage.objects.filter(day__gte=start, day__lte=today)
        rolled = int(rows.aggregate(n=Sum("credits"))["n"] or 0)
        pending = pending_usage(since=start)
    return rolled + sum(n for (*_, day), n in pending.items() if day <= today)


def set_budget(*, ctx: TenantContext, monthly_credits: int, hard_cap: bool = False) -> Budget:
    """Set the organization's monthly credit budget (Org Admins); audited."""
    authorize(ctx.principal, Action.MANAGE_BILLING, ctx.organization)
    if monthly_credits < 1:
        raise InvalidInput(
            "the budget must be at least one credit",
            fields={"monthly_credits": ["Must be at least 1."]},
        )
    with transaction.atomic():
        budget = Budget.objects.select_for_update().filter(organization=ctx.organization).first()
        before = (
            {"monthly_credits": budget.monthly_credits, "hard_cap": budget.hard_cap}
            if budget
            else None
        )
        budget = budget or Budget(organization=ctx.organization, monthly_credits=monthly_credits)
        budget.monthly_credits, budget.hard_cap = monthly_credits, hard_cap
        budget.save()
        record(
            actor=ctx.principal,
            action=audit_actions.BUDGET_SET,
            target=ctx.organization,
            organization=ctx.organization,
            before=before,
            after={"monthly_credits": monthly_credits, "hard_cap": hard_cap},
            ip=ctx.ip,
            user_agent=ctx.user_agent,
        )
    return budget


def check_budgets(*, today: date | None = None) -> int:
    """The daemon's loop: open a ``budget`` incident for each threshold newly crossed this
    month; returns how many were opened."""
    today = today or timezone.now().date()
    month = today.replace(day=1)
    opened = 0
    for budget in Budget.objects.unscoped().select_related("organization"):
        ctx = TenantContext(organization=budget.organization, principal=Principal.system("billing"))
        with tenant_context(ctx), transaction.atomic():
            used = month_to_date(today)
            already = budget.alerted_percent if budget.alerted_month == month else 0
            crossed = max(
                (t for t in THRESHOLDS if used * 100 >= t * budget.monthly_credits), default=0
            )
            if crossed <= already:
                continue
            prod = Deployment.objects.filter(kind=Deployment.Kind.PROD).first()
            if prod is not None:
                open_incident(
                    deployment=prod,
                    kind="budget",
                    key=f"{month:%Y-%m}:{crossed}",
                    details={
                        "message": f"{crossed}% of the monthly credit budget is used: "
                        f"{used} of {budget.monthly_credits} credits in {month:%B %Y}",
                        "credits": used,
                        "budget": budget.monthly_credits,
                        "percent": crossed,
                        "hard_cap": budget.hard_cap,
                    },
                )
                opened += 1
            Budget.objects.unscoped().filter(pk=budget.pk).update(
                alerted_month=month, alerted_percent=crossed
            )
    return opened


def check_launch(ctx: TenantContext) -> None:
    """With a hard cap, refuse launches once the month's budget is spent."""
    budget = Budget.objects.filter(organization=ctx.organization, hard_cap=True).first()
    if budget is None:
        return
    used = month_to_date()
    if used >= budget.monthly_credits:
        raise BudgetExhausted(
            f"the monthly credit budget of {budget.monthly_credits} credits is spent ({used} "
            "used) and it is a hard cap: runs launch again next month, or when an Org Admin "
            "raises the budget"
        )
