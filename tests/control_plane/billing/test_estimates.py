"""The credit estimate before a backfill: partitions times assets, priced by the plan."""

from __future__ import annotations

import pytest

from control_plane.backfills.models import Backfill
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.conftest import make_org
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
URL = "/api/v1/orgs/est/deployments/prod/billing/estimate/"


@pytest.fixture
def org():
    world = make_org("est", plan="starter")
    with tenant_context(world.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(world.ctx(), deployment=prod, name="shop")
    return world


def test_ten_days_of_one_daily_asset_is_ten_credits_and_nothing_is_stored(org):
    answer = org.client().get(
        URL, {"selection": "daily_orders", "start": "2024-01-01", "end": "2024-01-10"}
    )
    assert answer.status_code == 200, answer.json()
    body = answer.json()
    assert (body["credits"], body["plan"], body["cost"]) == (10, "starter", "0.35")
    assert body["runs"] >= 1
    with tenant_context(org.ctx()):
        assert not Backfill.objects.exists()


def test_an_invalid_request_is_a_400_naming_the_problem(org):
    answer = org.client().get(URL, {"selection": "daily_orders"})
    assert answer.status_code == 400
    assert "partition_range, partition_keys or all_missing" in answer.json()["detail"]
