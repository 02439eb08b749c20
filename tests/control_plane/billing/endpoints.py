"""The billing app's endpoints for the endpoint walks (tests/control_plane/api/endpoints.py)."""

from __future__ import annotations

from typing import Any


def build(victim) -> dict[str, Any]:
    return {}  # the plans are seeded by the migration; the URLs name only the organization


MUTATIONS = {
    ("billing-plan", "put"): ({"plan": "pro"}, "billing.plan_change"),
    ("billing-budget", "put"): ({"monthly_credits": 1000}, "billing.budget_set"),
}
