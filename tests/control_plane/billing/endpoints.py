"""The billing app's endpoints for the endpoint walks (tests/control_plane/api/endpoints.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


def build(victim) -> dict[str, Any]:
    return {}  # the plans are seeded by the migration; the URLs name only the organization


MUTATIONS = {
    ("billing-plan", "put"): ({"plan": "pro"}, "billing.plan_change"),
    ("billing-budget", "put"): ({"monthly_credits": 1000}, "billing.budget_set"),
}
MUTATIONS[("billing-subscription", "post")] = ({"plan": "starter"}, "billing.subscription_start")

# Audit rows a request writes before its own: subscribing changes the plan first.
PRECEDING = {"billing-subscription": ["billing.plan_change"]}


@contextmanager
def environment(name: str, settings) -> Iterator[None]:
    """What an endpoint needs around it in the walks: subscribing talks to Stripe (the
    local stand-in)."""
    if name != "billing-subscription":
        yield
        return
    from tests.control_plane.billing.stripe_standin import StripeStandIn

    server = StripeStandIn()
    server.start()
    settings.STRIPE_API_KEY = "sk_test_standin"
    settings.STRIPE_API_BASE = server.url
    settings.STRIPE_PRICE_IDS = {"starter": "price_starter"}
    try:
        yield
    finally:
        server.stop()
