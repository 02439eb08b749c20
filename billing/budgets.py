"""Monthly credit budgets: alerts at 80% and 100% through the alert policies of the
organization's deployments (incident kind ``budget``), and an optional hard cap that holds
runs queued, with the reason, until the cap lifts.

Thresholds are checked by a daemon loop over the rollups (every ``BUDGET_CHECK_SECONDS``),
not in the ingest transaction, so metering stays two writes per batch; each threshold
alerts once a month (the incident key names the month and the threshold).
"""

from __future__ import annotations

from datetime import date

from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone

from billing import audit_actions
from billing.models import Budget, DailyUsage
from billing.rollup import consistent_reads, pending_usage
from control_plane.alerts.models import AlertPolicy
from control_plane.alerts.services import open_incident
from control_plane.audit.services import record
from control_plane.core import wakeups
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
        wakeups.wake_dequeuer()  # a raised cap lets held runs start now
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


def alerted_deployments() -> list[Deployment]:
    """Where the current organization's budget incidents open: prod (so the incident is seen
    even with no policy) and every deployment with an enabled policy covering ``budget``."""
    covered = {
        policy.deployment_id
        for policy in AlertPolicy.objects.filter(enabled=True).only("deployment_id", "kinds")
        if "budget" in (policy.kinds or [])
    }
    return list(
        Deployment.objects.filter(Q(kind=Deployment.Kind.PROD) | Q(pk__in=covered)).order_by("pk")
    )


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
            details = {
                "message": f"{crossed}% of the monthly credit budget is used: "
                f"{used} of {budget.monthly_credits} credits in {month:%B %Y}",
                "credits": used,
                "budget": budget.monthly_credits,
                "percent": crossed,
                "hard_cap": budget.hard_cap,
            }
            for deployment in alerted_deployments():
                open_incident(
                    deployment=deployment,
                    kind="budget",
                    key=f"{month:%Y-%m}:{crossed}",
                    details=details,
                )
                opened += 1
            Budget.objects.unscoped().filter(pk=budget.pk).update(
                alerted_month=month, alerted_percent=crossed
            )
    return opened


def queue_hold(ctx: TenantContext) -> str:
    """With a hard cap, the reason runs stay queued once the month's budget is spent ("" when
    they may start). Asked by the dequeuer each pass: a new month, a raised budget or a
    plan change lifts it, and the runs start."""
    budget = Budget.objects.filter(organization=ctx.organization, hard_cap=True).first()
    if budget is None:
        return ""
    used = month_to_date()
    if used < budget.monthly_credits:
        return ""
    return (
        f"credit cap reached: the monthly budget of {budget.monthly_credits} credits is spent "
        f"({used} used) and it is a hard cap; queued runs start next month, or when an Org "
        "Admin raises the budget"
    )
