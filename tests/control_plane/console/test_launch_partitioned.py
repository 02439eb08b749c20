"""Launching a selection that mixes partitioned and unpartitioned assets without choosing a
partition: the preview says it backfills every partition and runs the rest once, and the
launch does exactly that; assets partitioned differently need a range."""

from __future__ import annotations

import pytest

from assay import DailyPartitionsDefinition, Definitions, asset
from control_plane.backfills.models import Backfill
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
LAUNCH = "/o/acme/d/prod/launch/"


@pytest.fixture
def world(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    load_location(acme.ctx(), deployment=prod, name="shop")
    launcher, _ = acme.member_with_role(Role.LAUNCHER)
    return acme, signed_in(launcher)


def test_launching_everything_backfills_every_partition_and_runs_the_rest_once(world):
    acme, client = world
    preview = client.get(LAUNCH, {"selection": "*"}).content.decode()
    assert 'id="partition-plan"' in preview
    assert "daily_orders is partitioned" in preview and "all 31 partitions" in preview
    assert "(2024-01-01 … 2024-01-31)" in preview
    assert "then runs clean_orders, raw_orders, revenue_report once" in preview
    response = client.post(LAUNCH, {"selection": "*", "location": "shop"})
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        backfill = Backfill.objects.get()
        assert not Run.objects.exists()  # the daemon launches the backfill's runs
    assert response["Location"] == f"/o/acme/d/prod/backfills/{backfill.pk}/"
    assert (backfill.partition_range_start, backfill.partition_range_end) == (
        "2024-01-01",
        "2024-01-31",
    )
    assert sum(backfill.partition_counts.values()) == 31 + 3


def test_a_chosen_partition_is_kept_and_an_unpartitioned_selection_is_one_run(world):
    acme, client = world
    client.post(LAUNCH, {"selection": "daily_orders", "location": "shop", "start": "2024-01-05"})
    client.post(LAUNCH, {"selection": "raw_orders+", "location": "shop"})
    with tenant_context(acme.ctx()):
        backfill = Backfill.objects.get()
        assert Run.objects.count() == 1
    assert (backfill.partition_range_start, backfill.partition_range_end) == (
        "2024-01-05",
        "2024-01-05",
    )
    assert (
        'id="partition-plan"'
        not in client.get(LAUNCH, {"selection": "raw_orders"}).content.decode()
    )


@asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-10"))
def early() -> int:
    return 1


@asset(partitions_def=DailyPartitionsDefinition(start_date="2024-02-01", end_date="2024-02-10"))
def late() -> int:
    return 2


def test_assets_partitioned_differently_need_a_range_and_nothing_is_launched(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    load_location(
        acme.ctx(), deployment=prod, name="two", definitions=Definitions(assets=[early, late])
    )
    launcher, _ = acme.member_with_role(Role.LAUNCHER)
    client = signed_in(launcher)
    assert "partitioned differently" in client.get(LAUNCH, {"selection": "*"}).content.decode()
    response = client.post(LAUNCH, {"selection": "*", "location": "two"})
    assert response.status_code == 400 and "choose a partition range" in response.content.decode()
    with tenant_context(acme.ctx()):
        assert not Backfill.objects.exists() and not Run.objects.exists()
