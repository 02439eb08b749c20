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


def test_the_schema_describes_every_field_of_the_partition_summary(acme, shop):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    described = schema["components"]["schemas"]["PartitionSummary"]
    results = acme.client().get(ASSETS).json()["results"]
    (daily,) = [a for a in results if a["key"] == "daily_orders"]
    assert set(described["properties"]) == set(daily["partitions"])
    assert set(described["required"]) == set(daily["partitions"])


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


def test_dynamic_partitions_are_counted_from_the_deployments_store(acme, shop):
    import uuid

    from control_plane.runs.ingest import IncomingEvent, ingest_events
    from tests.control_plane.dynamic_project import load_crm
    from tests.control_plane.factories import queue_run

    crm = load_crm(acme.ctx(), shop.deployment, customer_keys=["acme", "globex", "initech"])
    run = queue_run(acme.ctx(), location=crm, selection="invoices", partition_key="acme")
    payload = {"asset_key": "invoices", "partition": "acme", "payload": {}}
    with tenant_context(acme.ctx()):
        ingest_events(
            ctx=acme.ctx(),
            agent_id="agent-1",
            deployment_ids={shop.deployment_id},
            events=[
                IncomingEvent(
                    uuid.uuid4().hex, 1, str(run.id), "asset_materialization", 1.7e9, payload
                )
            ],
        )
    invoices = acme.client().get(ASSETS + "invoices/").json()
    assert invoices["partitions"] == {
        "total": 3,
        "materialized": 1,
        "failed": 0,
        "missing": 2,
        "failed_keys": [],
    }
    usage = next(a for a in acme.client().get(ASSETS).json()["results"] if a["key"] == "usage")
    assert usage["partitions"]["total"] == usage["partitions"]["missing"] == 3 * 31


def test_the_assets_list_reads_a_few_rows_per_asset_not_the_partition_history(acme, shop):
    """10,000 assets x 730 days is 7 million status rows: the list must not read them. Here
    300 rows of an asset no longer defined, and a day outside the partitions, are ignored."""
    import uuid
    from datetime import date, timedelta

    from django.db import connection

    from control_plane.runs.ingest import IncomingEvent, ingest_events
    from tests.control_plane.factories import queue_run

    run = queue_run(acme.ctx(), location=shop, selection="daily_orders", partition_key="2024-01-01")
    days = [(date(2024, 1, 1) + timedelta(days=n)).isoformat() for n in range(31)]
    outcomes = [("asset_materialization", "daily_orders", "2023-12-31")]  # not a key
    outcomes += [("asset_materialization", "daily_orders", day) for day in days[:25]]
    outcomes += [("step_failed", "daily_orders", day) for day in days[25:]]
    outcomes += [("asset_materialization", "retired", f"p{n:03d}") for n in range(300)]
    events = [
        IncomingEvent(
            uuid.uuid4().hex,
            sequence,
            str(run.id),
            kind,
            1.7e9 + sequence,
            {"asset_key": asset_key, "partition": partition, "payload": {}},
        )
        for sequence, (kind, asset_key, partition) in enumerate(outcomes, start=1)
    ]
    with tenant_context(acme.ctx()):
        ingest_events(
            ctx=acme.ctx(), agent_id="agent-1", deployment_ids={shop.deployment_id}, events=events
        )

    rows_read: list[int] = []

    def count_rows(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if "catalog_assetpartitionstatus" in sql and sql.lstrip().upper().startswith("SELECT"):
            rows_read.append(context["cursor"].rowcount)
        return result

    with connection.execute_wrapper(count_rows):
        results = acme.client().get(ASSETS).json()["results"]
    assert 0 < sum(rows_read) < 100  # the whole history is 332 rows

    daily = next(a for a in results if a["key"] == "daily_orders")
    assert daily["partitions"] == {
        "total": 31,
        "materialized": 25,
        "failed": 6,
        "missing": 0,
        "failed_keys": days[25:],
    }
    assert daily["latest_materialization"]["partition"] == days[24]  # the newest
    assert "retired" not in {a["key"] for a in results}


def test_asset_detail_shows_which_upstream_columns_feed_each_column(acme):
    from assay import AssetSpec, Definitions, asset
    from assay.column_lineage import column_lineage_from_sql

    orders = AssetSpec("shop/orders")
    customers = AssetSpec("shop/customers")

    @asset(
        deps=[orders, customers],
        column_lineage=column_lineage_from_sql(
            "select o.id as order_id, c.name as customer, o.amount * 2 as total, 1 as one "
            "from orders o join customers c on c.id = o.customer_id",
            tables={"orders": orders, "customers": customers},
            strict=True,
        ),
    )
    def order_report():
        return None

    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(
        acme.ctx(),
        deployment=prod,
        name="reports",
        definitions=Definitions(assets=[orders, customers, order_report]),
    )
    body = acme.client().get(ASSETS + "order_report/").json()
    # In the SQL's column order (which jsonb alone would not keep), each with its upstreams.
    assert body["column_lineage"] == [
        {"column": "order_id", "upstream": [{"asset": "shop/orders", "column": "id"}]},
        {"column": "customer", "upstream": [{"asset": "shop/customers", "column": "name"}]},
        {"column": "total", "upstream": [{"asset": "shop/orders", "column": "amount"}]},
        {"column": "one", "upstream": []},
    ]
    assert acme.client().get(ASSETS + "shop/orders/").json()["column_lineage"] == []
