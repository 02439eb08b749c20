"""`assay.dbt` with real dbt on DuckDB: loading a project, building it, subsets, failures."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from assay import AssetKey, Definitions, materialize
from assay.dbt import DbtCli, dbt_assets
from assay.definitions.checks import AssetCheckSeverity
from assay.errors import DefinitionError
from assay.partitions import DailyPartitionsDefinition
from assay.snapshot import build_snapshot
from tests.assay.dbt_project import copy_project, load_raw

SOURCES = [AssetKey(["jaffle_shop", "raw_customers"]), AssetKey(["jaffle_shop", "raw_orders"])]


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    return copy_project(tmp_path, monkeypatch)


def build_defs(project: Path, **options):
    @dbt_assets(project_dir=project, exclude=["tag:daily"], **options)
    def shop(context, dbt: DbtCli):
        yield from dbt.build(context)

    return shop, Definitions(assets=[shop, *shop.source_specs()])


def test_a_project_compiles_its_manifest_and_every_node_becomes_an_asset(project):
    shop, defs = build_defs(project)
    assert (project / "target" / "manifest.json").is_file()
    keys = {k.to_user_string() for k in shop.keys}
    assert keys == {
        "stg_customers",
        "stg_orders",
        "stg_payments",
        "customers",
        "raw_payments",
        "customers_snapshot",
    }
    customers = shop.specs_by_key[AssetKey("customers")]
    assert set(customers.deps) == {
        AssetKey(k) for k in ("stg_orders", "stg_payments", "stg_customers")
    }
    assert customers.group_name == "marts"
    assert customers.owners == ("ana@example.com", "analytics@example.com")
    assert customers.tags == {"finance": ""}
    assert customers.description.startswith("One row per customer")
    manifest = json.loads((project / "target" / "manifest.json").read_text())
    checksum = manifest["nodes"]["model.jaffle_shop.customers"]["checksum"]["checksum"]
    assert customers.code_version == checksum
    assert shop.specs_by_key[AssetKey("stg_orders")].deps == (SOURCES[1],)
    # Sources are external assets of the graph; the checks are the dbt tests.
    graph = defs.get_asset_graph()
    assert all(graph.nodes[key].is_external for key in SOURCES)
    checks = {(c.asset.to_user_string(), c.name): c for c in shop.check_specs}
    assert ("customers", "unique_customers_customer_id") in checks
    accepted = next(c for (a, n), c in checks.items() if n.startswith("accepted_values"))
    assert accepted.blocking is False  # severity: warn
    assert checks[("customers", "not_null_customers_lifetime_value")].blocking is True
    snapshot = build_snapshot(defs).to_dict()
    assert {c["name"] for c in snapshot["checks"]} >= {"unique_customers_customer_id"}


def test_a_changed_model_gets_a_new_code_version_and_a_recompiled_manifest(project):
    before, _ = build_defs(project)
    model = project / "models" / "marts" / "customers.sql"
    model.write_text(model.read_text() + "\n-- a comment changes the checksum\n")
    after, _ = build_defs(project)
    key = AssetKey("customers")
    assert after.specs_by_key[key].code_version != before.specs_by_key[key].code_version
    assert after.specs_by_key[AssetKey("stg_orders")].code_version == (
        before.specs_by_key[AssetKey("stg_orders")].code_version
    )


def test_a_manifest_alone_loads_without_a_project(project, tmp_path):
    build_defs(project)
    manifest = tmp_path / "manifest.json"
    manifest.write_bytes((project / "target" / "manifest.json").read_bytes())

    @dbt_assets(manifest=manifest, key_prefix="warehouse")
    def shop(context, dbt: DbtCli):
        yield from dbt.build(context)

    assert AssetKey(["warehouse", "customers"]) in shop.keys
    assert shop.specs_by_key[AssetKey(["warehouse", "stg_orders"])].deps == (
        AssetKey(["warehouse", "jaffle_shop", "raw_orders"]),
    )
    with pytest.raises(DefinitionError, match="not a dbt manifest"):
        (tmp_path / "bad.json").write_text("[]")
        dbt_assets(manifest=tmp_path / "bad.json")


def test_a_build_materializes_every_model_with_dbt_metadata_and_reports_tests_as_checks(project):
    _, defs = build_defs(project)
    result = materialize(defs)
    assert result.success, result.failure_message
    assert set(result.materialized_keys) == set(defs.get_assets_def("customers").keys)
    seed = next(
        e
        for e in result.get_asset_materialization_events()
        if e.asset_key == AssetKey("raw_payments")
    )
    assert seed.payload["metadata"]["dbt/rows_affected"] == 5
    assert seed.payload["metadata"]["dbt/execution_time_s"] > 0
    assert seed.payload["code_version"]
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["unique_customers_customer_id"].passed
    assert len(checks) == 9
    with duckdb.connect(str(project.parent / "jaffle.duckdb")) as con:
        assert con.execute("select count(*) from customers").fetchone() == (3,)


def test_failed_tests_are_failed_checks_with_their_severity_and_a_failed_model_fails_alone(
    project,
):
    database = project.parent / "jaffle.duckdb"
    # Customer 3 twice (unique fails: ERROR, dbt skips what reads stg_customers) and an
    # order status outside the accepted values (warn severity).
    load_raw(
        database,
        [(1, "Ann", "Archer"), (3, "Cy", "Cooper"), (3, "Cy", "Cooper")],
        [(1, 1, "2026-01-01", "lost"), (2, 3, "2026-01-02", "placed")],
    )
    (project / "models" / "marts" / "broken.sql").write_text("select * from no_such_table\n")
    _, defs = build_defs(project)
    result = materialize(defs)
    assert not result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    unique = checks["unique_stg_customers_customer_id"]
    assert not unique.passed and unique.severity == AssetCheckSeverity.ERROR
    assert unique.metadata["dbt/failures"] == 1
    accepted = next(c for n, c in checks.items() if n.startswith("accepted_values"))
    assert not accepted.passed and accepted.severity == AssetCheckSeverity.WARN
    failed = {e.asset_key for e in result.get_step_failure_events()}
    assert failed == {AssetKey("broken")}
    skipped = {e.asset_key for e in result.get_step_skipped_events()}
    assert {AssetKey("customers"), AssetKey("customers_snapshot")} <= skipped
    materialized = set(result.materialized_keys)
    assert {
        AssetKey("stg_customers"),
        AssetKey("stg_orders"),
        AssetKey("stg_payments"),
    } <= materialized
    assert AssetKey("broken") not in materialized and AssetKey("customers") not in materialized


def test_a_subset_runs_only_the_selected_models(project):
    _, defs = build_defs(project)
    result = materialize(defs, selection="stg_orders")
    assert result.success, result.failure_message
    assert result.materialized_keys == [AssetKey("stg_orders")]
    assert {c.check_name for c in result.get_asset_check_evaluations()} == {
        "unique_stg_orders_order_id",
        "not_null_stg_orders_order_id",
        next(n for n in _check_names(defs) if n.startswith("accepted_values")),
    }
    with duckdb.connect(str(project.parent / "jaffle.duckdb")) as con:
        query = "select table_name from information_schema.tables"
        tables = {row[0] for row in con.execute(query).fetchall()}
    assert "stg_orders" in tables and "customers" not in tables and "stg_customers" not in tables


def _check_names(defs) -> set[str]:
    return {c.name for c in defs.get_assets_def("customers").check_specs}


def test_a_daily_partition_passes_its_window_as_vars(project):
    @dbt_assets(
        project_dir=project,
        select=["tag:daily"],
        partitions_def=DailyPartitionsDefinition(start_date="2026-01-01", end_date="2026-01-04"),
    )
    def daily(context, dbt: DbtCli):
        yield from dbt.build(context)

    shop, _ = build_defs(project)
    defs = Definitions(assets=[shop, daily, *shop.source_specs()])
    assert materialize(defs, selection="stg_orders").success
    result = materialize(defs, selection="orders_daily", partition_key="2026-01-02")
    assert result.success, result.failure_message
    assert [(e.asset_key, e.partition) for e in result.get_asset_materialization_events()] == [
        (AssetKey("orders_daily"), "2026-01-02")
    ]
    with duckdb.connect(str(project.parent / "jaffle.duckdb")) as con:
        rows = con.execute("select cast(order_date as text), orders from orders_daily").fetchall()
    assert rows == [("2026-01-02", 2)]
