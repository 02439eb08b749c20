"""The catalog REST API: assets from the current snapshot, and lineage."""

from __future__ import annotations

import pytest

from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
ASSETS = "/api/v1/orgs/acme/deployments/prod/assets/"


@pytest.fixture
def shop(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="shop")


def test_assets_are_listed_from_the_current_snapshot(acme, shop):
    load_location(acme.ctx(), deployment=shop.deployment, name="shop")  # same id: not re-stored
    results = acme.client().get(ASSETS).json()["results"]
    keys = [a["key"] for a in results]
    assert keys == ["clean_orders", "daily_orders", "raw_orders", "revenue_report"]
    clean = results[0]
    assert clean["deps"] == ["raw_orders"] and clean["group"] == "sales"
    assert clean["latest_materialization"] is None and clean["checks"] == []
    assert acme.client().get(ASSETS + "?location=other").json()["results"] == []
    daily = results[1]
    assert daily["is_partitioned"] and daily["partitions"] == {
        "total": 31,
        "materialized": 0,
        "failed": 0,
        "missing": 31,
        "failed_keys": [],
    }


def test_asset_lineage_walks_upstream_and_downstream(acme, shop):
    body = acme.client().get(ASSETS + "clean_orders/").json()
    assert body["upstream"] == ["raw_orders"] and body["downstream"] == ["revenue_report"]
    assert acme.client().get(ASSETS + "revenue_report/").json()["upstream"] == [
        "clean_orders",
        "raw_orders",
    ]
    assert acme.client().get(ASSETS + "nope/").status_code == 404


def test_partition_summary_and_latest_materialization_follow_the_event_log(acme, shop):
    import uuid

    from control_plane.runs.ingest import IncomingEvent, ingest_events
    from tests.control_plane.factories import queue_run

    run = queue_run(acme.ctx(), location=shop, selection="daily_orders", partition_key="2024-01-01")

    def event(sequence, kind, partition):
        payload = {"asset_key": "daily_orders", "partition": partition, "payload": {}}
        return IncomingEvent(uuid.uuid4().hex, sequence, str(run.id), kind, 1.7e9, payload)

    with tenant_context(acme.ctx()):
        ingest_events(
            ctx=acme.ctx(),
            agent_id="agent-1",
            deployment_ids={shop.deployment_id},
            events=[
                event(1, "asset_materialization", "2024-01-01"),
                event(2, "step_failed", "2024-01-02"),
            ],
        )
    daily = acme.client().get(ASSETS + "daily_orders/").json()
    assert daily["partitions"] == {
        "total": 31,
        "materialized": 1,
        "failed": 1,
        "missing": 29,
        "failed_keys": ["2024-01-02"],
    }
    assert daily["latest_materialization"]["partition"] == "2024-01-01"
