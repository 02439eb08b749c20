"""Reading usage: from the daily rollups (``DailyUsage``) plus the few ledger rows the
rollup loop has not folded in yet (``billing.rollup.pending_usage``), never the event log.

A year of an organization with 2,000 assets is ~730,000 rollup rows; the page reads the
current month (per deployment, location, asset) and the chart's last ``CHART_DAYS`` days,
each one index range scan on ``(organization, day)`` and a GROUP BY in PostgreSQL.
"""

from __future__ import annotations

import calendar
from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from billing.limits import current_use
from billing.models import DailyUsage, Plan
from billing.plans import Bill, compute_bill, plan_of
from billing.rollup import consistent_reads, pending_usage
from control_plane.core.context import TenantContext
from control_plane.tenancy.models import CodeLocation, Deployment

CHART_DAYS = 90
TOP_ASSETS = 10


@dataclass(frozen=True)
class Usage:
    today: date
    plan: Plan
    users: int
    code_locations: int
    per_day: list[tuple[date, int]]  # the last CHART_DAYS days, zeros included
    per_deployment: list[tuple[str, int]]  # month to date
    per_location: list[tuple[str, str, int]]  # deployment, location, credits
    top_assets: list[tuple[str, int]]
    month_to_date: int
    projected_credits: int
    bill_to_date: Bill | None
    projected_bill: Bill | None

    def as_dict(self) -> dict:
        def money(bill: Bill | None) -> dict | None:
            if bill is None:
                return None
            return {"base": str(bill.base), "usage": str(bill.usage), "total": str(bill.total)}

        def price(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "today": self.today.isoformat(),
            "plan": {
                "tier": self.plan.tier,
                "name": self.plan.name,
                "base_price": price(self.plan.base_price),
                "credit_price": price(self.plan.credit_price),
                "user_limit": self.plan.user_limit,
                "code_location_limit": self.plan.code_location_limit,
                "users": self.users,
                "code_locations": self.code_locations,
            },
            "per_day": [{"day": d.isoformat(), "credits": c} for d, c in self.per_day],
            "per_deployment": [{"deployment": n, "credits": c} for n, c in self.per_deployment],
            "per_code_location": [
                {"deployment": d, "code_location": n, "credits": c} for d, n, c in self.per_location
            ],
            "top_assets": [{"asset_key": k, "credits": c} for k, c in self.top_assets],
            "month_to_date": self.month_to_date,
            "projected_credits": self.projected_credits,
            "bill_to_date": money(self.bill_to_date),
            "projected_bill": money(self.projected_bill),
        }


def usage(*, ctx: TenantContext, today: date | None = None) -> Usage:
    """The organization's usage for the month of ``today`` (UTC) and the chart before it."""
    today = today or timezone.now().date()
    month_start = today.replace(day=1)
    chart_start = today - timedelta(days=CHART_DAYS - 1)
    with consistent_reads():
        rows = DailyUsage.objects.all()
        month = rows.filter(day__gte=month_start, day__lte=today)
        by_day: Counter[date] = Counter(
            dict(
                rows.filter(day__gte=chart_start, day__lte=today)
                .values_list("day")
                .annotate(n=Sum("credits"))
                .values_list("day", "n")
            )
        )
        by_location: Counter[tuple[int, int]] = Counter(
            {
                (deployment, location): n
                for deployment, location, n in month.values_list(
                    "deployment_id", "code_location_id"
                )
                .annotate(n=Sum("credits"))
                .values_list("deployment_id", "code_location_id", "n")
            }
        )
        pending = pending_usage(since=min(chart_start, month_start))
        per_asset = month.values_list("asset_key").annotate(n=Sum("credits"))
        # The top assets rolled up, and the rolled-up credits of each asset with pending
        # ones (which may lift it into the top): exact, and still two small reads.
        by_asset: Counter[str] = Counter(
            dict(per_asset.order_by("-n", "asset_key").values_list("asset_key", "n")[:TOP_ASSETS])
        )
        pending_assets = {key for _, _, key, day in pending if day >= month_start}
        if pending_assets:
            by_asset.update(
                dict(
                    per_asset.filter(asset_key__in=pending_assets)
                    .exclude(asset_key__in=list(by_asset))
                    .values_list("asset_key", "n")
                )
            )
    for (deployment_id, location_id, asset_key, day), n in pending.items():
        if day > today:
            continue
        if day >= chart_start:
            by_day[day] += n
        if day >= month_start:
            by_location[(deployment_id, location_id)] += n
            by_asset[asset_key] += n
    per_day = [
        (chart_start + timedelta(days=i), int(by_day.get(chart_start + timedelta(days=i), 0)))
        for i in range(CHART_DAYS)
    ]
    names = _names({d for d, _ in by_location}, {loc for _, loc in by_location})
    per_location = sorted(
        (
            (names[0].get(deployment, "?"), names[1].get(location, "?"), int(n))
            for (deployment, location), n in by_location.items()
        ),
        key=lambda item: (-item[2], item[0], item[1]),
    )
    per_deployment: dict[str, int] = {}
    for deployment, _, n in per_location:
        per_deployment[deployment] = per_deployment.get(deployment, 0) + n
    top_assets = sorted(((k, int(n)) for k, n in by_asset.items()), key=lambda i: (-i[1], i[0]))
    month_to_date = sum(n for *_, n in per_location)
    days_in_month = calendar.monthrange(today.year, today.month)[1]
    projected = month_to_date * days_in_month // today.day
    plan = plan_of(ctx.organization)
    use = current_use()
    return Usage(
        today=today,
        plan=plan,
        users=use["users"],
        code_locations=use["code_locations"],
        per_day=per_day,
        per_deployment=sorted(per_deployment.items(), key=lambda item: -item[1]),
        per_location=per_location,
        top_assets=top_assets[:TOP_ASSETS],
        month_to_date=month_to_date,
        projected_credits=projected,
        bill_to_date=compute_bill(plan, month_to_date),
        projected_bill=compute_bill(plan, projected),
    )


def _names(deployments: set[int], locations: set[int]) -> tuple[dict[int, str], dict[int, str]]:
    return (
        dict(Deployment.objects.filter(pk__in=deployments).values_list("pk", "name")),
        dict(CodeLocation.objects.filter(pk__in=locations).values_list("pk", "name")),
    )


def chart_svg(per_day: list[tuple[date, int]], *, width: int = 720, height: int = 140) -> str:
    """Credits per day as inline SVG bars (no script, no external asset)."""
    top = max((n for _, n in per_day), default=0) or 1
    bar = width / max(len(per_day), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="100%" height="{height}" role="img" aria-label="credits per day">'
    ]
    for i, (day, n) in enumerate(per_day):
        h = round(n / top * (height - 4), 1)
        parts.append(
            f'<rect x="{i * bar:.1f}" y="{height - h:.1f}" width="{max(bar - 1, 1):.1f}" '
            f'height="{h}" fill="#3b6fd8"><title>{day.isoformat()}: {n} credits</title></rect>'
        )
    parts.append("</svg>")
    return "".join(parts)
