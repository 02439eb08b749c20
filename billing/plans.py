"""The plan catalogue and bill arithmetic (Decimal throughout: money is never a float)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from billing.models import Plan
from control_plane.tenancy.models import Organization

# SPEC §3. Pro and Enterprise are priced per contract (no list price), unlimited.
# The same table seeds the database (migration 0002_billing_plans); this copy is for tests.
DEFAULT_CATALOGUE: tuple[dict, ...] = (
    {
        "tier": "solo",
        "name": "Solo",
        "base_price": Decimal("10.00"),
        "credit_price": Decimal("0.0400"),
        "user_limit": 1,
        "code_location_limit": 1,
        "position": 1,
    },
    {
        "tier": "starter",
        "name": "Starter",
        "base_price": Decimal("100.00"),
        "credit_price": Decimal("0.0350"),
        "user_limit": 3,
        "code_location_limit": 5,
        "position": 2,
    },
    {
        "tier": "pro",
        "name": "Pro",
        "base_price": None,
        "credit_price": None,
        "user_limit": None,
        "code_location_limit": None,
        "position": 3,
    },
    {
        "tier": "enterprise",
        "name": "Enterprise",
        "base_price": None,
        "credit_price": None,
        "user_limit": None,
        "code_location_limit": None,
        "position": 4,
    },
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Bill:
    plan: str
    credits: int
    base: Decimal
    usage: Decimal
    total: Decimal


def ensure_catalogue() -> None:
    """Create any default plan missing (the migration seeds them; a database flushed since,
    as between transactional tests, has none)."""
    for row in DEFAULT_CATALOGUE:
        Plan.objects.get_or_create(tier=row["tier"], defaults=row)


def plan_of(organization: Organization) -> Plan:
    """The organization's plan; an unknown tier name falls back to Starter's terms."""
    plan = Plan.objects.filter(tier=organization.plan).first()
    if plan is None:
        ensure_catalogue()
        plan = Plan.objects.filter(tier=organization.plan).first()
    return plan or Plan.objects.get(tier="starter")


def compute_bill(plan: Plan, credits: int) -> Bill | None:
    """Base price plus credits at the plan's price, to the cent; None for custom plans."""
    if plan.base_price is None or plan.credit_price is None:
        return None
    usage = (plan.credit_price * credits).quantize(CENT)
    return Bill(plan.tier, credits, plan.base_price, usage, plan.base_price + usage)
