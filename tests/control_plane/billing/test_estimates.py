"""The credit estimate before a backfill: partitions times assets, priced by the plan."""

from __future__ import annotations

import pytest
from django.test import Client

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
    answer = org.client().get(URL, {"selection": "daily_orders", "location": "shop"})
    assert answer.status_code == 400
    assert "start and end, partition_keys or all_missing" in answer.json()["detail"]
    nowhere = org.client().get(URL, {"selection": "raw_orders"})
    assert nowhere.status_code == 400 and "code location" in nowhere.json()["detail"]
    unknown = org.client().get(URL, {"selection": "nope", "location": "shop"})
    assert unknown.status_code == 400 and "nope" in unknown.json()["detail"]


def test_a_run_costs_one_credit_per_asset_it_materializes(org):
    answer = org.client().get(URL, {"selection": "raw_orders+", "location": "shop"})
    assert answer.status_code == 200, answer.json()
    assert answer.json() == {"credits": 3, "runs": 1, "plan": "starter", "cost": "0.10"}


def test_the_console_launch_form_shows_the_credit_estimate_before_launching(org):
    client = Client()
    client.force_login(org.admin)
    launch = "/o/est/d/prod/launch/"
    backfill = client.get(
        launch, {"selection": "daily_orders", "start": "2024-01-01", "end": "2024-01-10"}
    ).content.decode()
    assert 'id="credit-estimate"' in backfill
    assert "Estimated cost: 10 credits (partitions x assets" in backfill
    assert "$0.35 at the Starter plan" in backfill
    run = client.get(launch, {"selection": "raw_orders+"}).content.decode()
    assert "Estimated cost: 3 credits (one per asset), about $0.10 at the Starter" in run
    # No partition chosen: launching backfills every day of January, so that is estimated.
    every = client.get(launch, {"selection": "daily_orders"}).content.decode()
    assert "all 31 partitions" in every
    assert "Estimated cost: 31 credits (partitions x assets" in every
    with tenant_context(org.ctx()):
        assert not Backfill.objects.exists()
