"""The partition heatmap of a two-dimensional asset is a grid: the primary dimension's
keys as rows, the time dimension's as columns, each cell that pair's latest outcome."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from assay import (
    DailyPartitionsDefinition,
    Definitions,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    StaticPartitionsDefinition,
    asset,
)
from control_plane.catalog.models import AssetPartitionStatus
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Deployment
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db


@asset(
    partitions_def=MultiPartitionsDefinition(
        {
            "region": StaticPartitionsDefinition(["eu", "us", "apac"]),
            "date": DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-05"),
        }
    )
)
def regional_sales() -> int:
    return 0


def _outcome(acme, prod, partition: str, status: str) -> None:
    with tenant_context(acme.ctx()):
        AssetPartitionStatus.objects.create(
            organization=acme.organization,
            deployment=prod,
            asset_key="regional_sales",
            partition=partition,
            status=status,
            run_id=uuid.uuid4(),
            event_id=uuid.uuid4().hex,
            timestamp=timezone.now(),
        )


def test_two_dimensions_are_drawn_as_rows_by_columns(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    load_location(
        acme.ctx(), deployment=prod, name="sales", definitions=Definitions(assets=[regional_sales])
    )
    eu_2nd = str(MultiPartitionKey({"region": "eu", "date": "2024-01-02"}))
    us_4th = str(MultiPartitionKey({"region": "us", "date": "2024-01-04"}))
    _outcome(acme, prod, eu_2nd, "materialized")
    _outcome(acme, prod, us_4th, "failed")
    page = signed_in(acme.admin).get("/o/acme/d/prod/assets/regional_sales/").content.decode()
    assert 'class="heatmap-grid"' in page
    assert page.count("<tr data-row=") == 3  # apac, eu, us
    assert page.count('<td class="cell ') == 12  # 3 regions x 4 days
    assert f'class="cell status-materialized" data-partition="{eu_2nd}"' in page
    assert f'class="cell status-failed" data-partition="{us_4th}"' in page
    assert page.count('status-missing" data-partition') == 10
    assert "region \\ date" in page
