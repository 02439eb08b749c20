"""Column lineage read from real SQL with sqlglot, declared on assets and carried in snapshots."""

from __future__ import annotations

import pytest

from assay import AssetKey, AssetSpec, Definitions, asset
from assay.column_lineage import (
    ColumnDep,
    ColumnLineageError,
    ColumnLineageWarning,
    column_lineage_from_sql,
)
from assay.errors import DefinitionError
from assay.snapshot import DefinitionsSnapshot, build_snapshot
from assay.snapshot_graph import asset_graph_from_snapshots


def dep(key: str, column: str) -> ColumnDep:
    return ColumnDep(AssetKey.from_user_string(key), column)


def test_a_join_with_aliases_traces_each_column_to_its_table():
    lineage = column_lineage_from_sql(
        """
        select o.id as order_id, c.name as customer_name, o.amount * 1.2 as gross,
               o.amount + c.discount as net
        from orders o join customers c on o.customer_id = c.id
        """,
        tables={"orders": "shop/orders", "customers": "shop/customers"},
        strict=True,
    )
    assert lineage == {
        "order_id": (dep("shop/orders", "id"),),
        "customer_name": (dep("shop/customers", "name"),),
        "gross": (dep("shop/orders", "amount"),),
        "net": (dep("shop/customers", "discount"), dep("shop/orders", "amount")),
    }


def test_ctes_are_traced_through_to_the_upstream_tables():
    lineage = column_lineage_from_sql(
        """
        with firsts as (
            select customer_id, min(order_date) as first_order, count(*) as number_of_orders
            from main.stg_orders group by customer_id
        )
        select c.customer_id, c.first_name || ' ' || c.last_name as full_name,
               firsts.first_order, coalesce(firsts.number_of_orders, 0) as number_of_orders
        from main.stg_customers c left join firsts using (customer_id)
        """,
        tables={"main.stg_orders": "stg_orders", "stg_customers": "stg_customers"},
        dialect="duckdb",
        strict=True,
    )
    assert lineage["customer_id"] == (dep("stg_customers", "customer_id"),)
    assert lineage["full_name"] == (
        dep("stg_customers", "first_name"),
        dep("stg_customers", "last_name"),
    )
    assert lineage["first_order"] == (dep("stg_orders", "order_date"),)
    # count(*) reads no particular column: the column is known, fed by none.
    assert lineage["number_of_orders"] == ()


def test_select_star_expands_with_the_known_schemas():
    lineage = column_lineage_from_sql(
        "select * from a join b on a.id = b.a_id",
        tables={"a": "raw/a", "b": AssetSpec("raw/b")},
        schema={"a": ["id", "x"], "b": {"a_id": "int", "y": "text"}},
        strict=True,
    )
    assert lineage == {
        "id": (dep("raw/a", "id"),),
        "x": (dep("raw/a", "x"),),
        "a_id": (dep("raw/b", "a_id"),),
        "y": (dep("raw/b", "y"),),
    }
    # Without a schema a star names no column, so there is nothing to say.
    assert column_lineage_from_sql("select * from a", strict=True) == {}


def test_quoted_qualified_names_and_unmapped_tables():
    lineage = column_lineage_from_sql(
        'select o."Amount", o.id from "shop"."main"."orders" o join analytics.refunds r '
        "on r.order_id = o.id where r.amount > 0",
        tables={"shop.main.orders": "shop/orders"},
        strict=True,
    )
    assert lineage == {"Amount": (dep("shop/orders", "Amount"),), "id": (dep("shop/orders", "id"),)}
    # A table `tables` does not name is the asset of its dotted name.
    other = column_lineage_from_sql("select r.amount from analytics.refunds r", strict=True)
    assert other == {"amount": (dep("analytics/refunds", "amount"),)}


def test_sql_that_does_not_parse_gives_no_lineage_and_a_warning():
    with pytest.warns(ColumnLineageWarning, match="does not parse"):
        assert column_lineage_from_sql("select from where") == {}
    with pytest.warns(ColumnLineageWarning, match="not one SELECT"):
        assert column_lineage_from_sql("insert into t values (1)") == {}
    with pytest.raises(ColumnLineageError, match="does not parse"):
        column_lineage_from_sql("select (", strict=True)
    with pytest.raises(ColumnLineageError, match="different qualification"):
        column_lineage_from_sql("select 1 as x", schema={"a": ["x"], "main.b": ["y"]}, strict=True)


def test_an_asset_declares_lineage_and_the_snapshot_carries_it():
    @asset(deps=["shop/orders"])
    def totals():
        return None

    @asset(
        deps=["shop/orders"],
        column_lineage=column_lineage_from_sql(
            "select o.id, o.amount as total from orders o", tables={"orders": "shop/orders"}
        ),
    )
    def order_totals():
        return None

    @asset(column_lineage={"score": [("order_totals", "total"), (AssetKey("totals"), "x")]})
    def scores():
        return None

    orders = AssetSpec("shop/orders")
    snapshot = build_snapshot(Definitions(assets=[orders, totals, order_totals, scores]))
    by_key = {a.key: a for a in snapshot.assets}
    # A list, in the SQL's column order (the snapshot's JSON sorts object keys).
    assert by_key["order_totals"].column_lineage == [
        {"column": "id", "upstream": [{"asset": "shop/orders", "column": "id"}]},
        {"column": "total", "upstream": [{"asset": "shop/orders", "column": "amount"}]},
    ]
    assert by_key["scores"].column_lineage[0]["upstream"] == [
        {"asset": "order_totals", "column": "total"},
        {"asset": "totals", "column": "x"},
    ]
    assert by_key["totals"].column_lineage == []
    again = DefinitionsSnapshot.from_json(snapshot.to_json())
    assert again == snapshot
    # The control plane's graph, rebuilt from the snapshot, has the same lineage back.
    graph = asset_graph_from_snapshots({"here": again}).graph
    assert graph.nodes[AssetKey("scores")].spec.column_lineage == scores.spec.column_lineage


def test_a_snapshot_from_a_newer_sdk_with_unknown_fields_still_reads():
    snapshot = build_snapshot(Definitions(assets=[AssetSpec("x")]))
    data = snapshot.to_dict()
    data["assets"][0]["a_field_of_a_later_release"] = {"x": 1}
    assert DefinitionsSnapshot.from_dict(data) == snapshot


def test_malformed_column_lineage_is_rejected_with_a_message():
    with pytest.raises(DefinitionError, match="not an \\(asset key, column\\) pair"):
        AssetSpec("x", column_lineage={"a": ["upstream"]})
    with pytest.raises(DefinitionError, match="must list"):
        AssetSpec("x", column_lineage={"a": "upstream.col"})
