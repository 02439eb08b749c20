"""Column lineage of dbt models, from the jaffle_shop example's real manifest and catalog."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from assay import AssetKey, Definitions
from assay.column_lineage import ColumnDep, ColumnLineageWarning
from assay.dbt import DbtCli, dbt_assets
from assay.dbt.cli import run_dbt
from assay.dbt.lineage import dialect_of
from assay.snapshot import build_snapshot
from tests.assay.dbt_project import copy_project

RAW_ORDERS = AssetKey(["jaffle_shop", "raw_orders"])
RAW_CUSTOMERS = AssetKey(["jaffle_shop", "raw_customers"])


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return copy_project(tmp_path, monkeypatch)


def load(project: Path, **options):
    @dbt_assets(project_dir=project, exclude=["tag:daily"], **options)
    def shop(context, dbt: DbtCli):
        yield from dbt.build(context)

    return shop


def lineage_of(shop, key: str) -> dict[str, list[tuple[str, str]]]:
    spec = shop.specs_by_key[AssetKey.from_user_string(key)]
    return {
        column: [(d.asset_key.to_user_string(), d.column_name) for d in deps]
        for column, deps in spec.column_lineage.items()
    }


def test_models_get_lineage_from_the_parsed_manifest_through_ctes_joins_and_stars(project):
    with warnings.catch_warnings():
        warnings.simplefilter("error", ColumnLineageWarning)  # every model here reads
        shop = load(project)
    # `dbt parse` compiles nothing: the raw SQL's ref()/source() are rendered from it.
    assert lineage_of(shop, "stg_orders") == {
        "order_id": [("jaffle_shop/raw_orders", "id")],
        "customer_id": [("jaffle_shop/raw_orders", "user_id")],
        "order_date": [("jaffle_shop/raw_orders", "order_date")],
        "status": [("jaffle_shop/raw_orders", "status")],
    }
    assert lineage_of(shop, "customers") == {
        "customer_id": [("stg_customers", "customer_id")],
        "first_name": [("stg_customers", "first_name")],
        "last_name": [("stg_customers", "last_name")],
        "first_order": [("stg_orders", "order_date")],
        "number_of_orders": [],  # count(*)
        "lifetime_value": [("stg_payments", "amount")],
    }
    # The snapshot's `select *` expands with the columns traced for stg_customers.
    assert list(lineage_of(shop, "customers_snapshot")) == [
        "customer_id",
        "first_name",
        "last_name",
    ]
    assert lineage_of(shop, "raw_payments") == {}  # a seed has no SQL
    snapshot = build_snapshot(Definitions(assets=[shop, *shop.source_specs()]))
    stg = next(a for a in snapshot.assets if a.key == "stg_orders")
    assert stg.column_lineage[1] == {
        "column": "customer_id",
        "upstream": [{"asset": "jaffle_shop/raw_orders", "column": "user_id"}],
    }


def test_compiled_code_and_the_catalog_are_used_once_dbt_has_run(project):
    (project / "models" / "marts" / "payments_all.sql").write_text(
        "select * from {{ ref('raw_payments') }}\n"
    )
    before = load(project)
    # The seed's columns are known nowhere yet, so the star names none.
    assert lineage_of(before, "payments_all") == {}
    args = ["--project-dir", str(project), "--profiles-dir", str(project), "--quiet"]
    run_dbt(["build", "--exclude", "tag:daily", *args])
    run_dbt(["docs", "generate", *args])
    assert (project / "target" / "catalog.json").is_file()
    after = load(project)
    manifest = after.manifest.raw["nodes"]["model.jaffle_shop.customers"]
    assert manifest.get("compiled_code")
    assert lineage_of(after, "payments_all") == {
        "id": [("raw_payments", "id")],
        "order_id": [("raw_payments", "order_id")],
        "payment_method": [("raw_payments", "payment_method")],
        "amount": [("raw_payments", "amount")],
    }
    assert lineage_of(after, "customers")["lifetime_value"] == [("stg_payments", "amount")]
    assert after.specs_by_key[AssetKey("stg_customers")].column_lineage["customer_id"] == (
        ColumnDep(RAW_CUSTOMERS, "id"),
    )


def test_a_model_whose_sql_does_not_parse_loads_without_lineage_and_warns(project):
    (project / "models" / "marts" / "odd.sql").write_text(
        "select id as x from {{ ref('stg_orders') }} where (\n"
    )
    (project / "models" / "marts" / "macro_heavy.sql").write_text(
        "select {{ dbt_utils.star(ref('stg_orders')) }} from {{ ref('stg_orders') }}\n"
    )
    with pytest.warns(ColumnLineageWarning, match="model.jaffle_shop.odd: no column lineage"):
        shop = load(project)
    assert lineage_of(shop, "odd") == {}
    # Jinja that needs dbt (a package's macro) waits for dbt to compile it: no lineage yet.
    assert lineage_of(shop, "macro_heavy") == {}
    assert lineage_of(shop, "stg_orders")["order_id"] == [("jaffle_shop/raw_orders", "id")]


def test_lineage_can_be_turned_off_and_adapters_map_to_sqlglot_dialects(project):
    shop = load(project, column_lineage=False)
    assert all(not spec.column_lineage for spec in shop.specs)
    assert dialect_of("duckdb") == "duckdb"
    assert dialect_of("sqlserver") == "tsql"
    assert dialect_of("some_adapter_sqlglot_lacks") is None
    assert RAW_ORDERS in shop.specs_by_key[AssetKey("stg_orders")].deps
