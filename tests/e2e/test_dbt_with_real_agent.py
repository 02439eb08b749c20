"""The jaffle_shop dbt project materialized through a real ``assay-agent`` subprocess and the
control plane (servicer, run queue, PostgreSQL): dbt's models arrive as materializations and
its tests as check evaluations, an upstream Python asset first."""

from __future__ import annotations

import pytest

from control_plane.core.context import tenant_context
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from tests.control_plane.conftest import OrgWorld, make_org
from tests.control_plane.real_agent import real_agent, wait_for

pytest.importorskip("dbt.cli.main", reason="the dbt extra is not installed")

from tests.assay.dbt_project import copy_project

pytestmark = pytest.mark.django_db(transaction=True)
DEPLOYMENT = "/api/v1/orgs/acme/deployments/prod"

PROJECT = """
import os

os.environ["JAFFLE_SHOP_DUCKDB"] = {database!r}

import duckdb

from assay import Definitions, MaterializeResult, asset
from assay.dbt import dbt_assets


@asset(key=["jaffle_shop", "raw_customers"])
def raw_customers() -> MaterializeResult:
    with duckdb.connect(os.environ["JAFFLE_SHOP_DUCKDB"]) as con:
        con.execute("insert into raw_customers values (4, 'Di', 'Dunn')")
    return MaterializeResult(metadata={{"rows": 4}})


@dbt_assets(project_dir={project!r}, exclude=["tag:daily"])
def shop_dbt(context, dbt):
    yield from dbt.build(context)


sources = shop_dbt.source_specs(provided=[raw_customers])
defs = Definitions(assets=[raw_customers, shop_dbt, *sources])
"""


@pytest.fixture
def acme(db) -> OrgWorld:
    return make_org("acme")


def test_the_dbt_project_materializes_through_a_real_agent_with_tests_as_checks(
    acme, tmp_path, monkeypatch
):
    project = copy_project(tmp_path, monkeypatch)
    source = PROJECT.format(database=str(tmp_path / "jaffle.duckdb"), project=str(project))
    workdir = tmp_path / "agent"
    workdir.mkdir()
    with real_agent(acme, workdir, project=source, module="jaffle_defs") as log:
        client = acme.client()
        assets = wait_for(
            lambda: client.get(f"{DEPLOYMENT}/assets/").json()["results"], "the assets", log=log
        )
        keys = {a["key"] for a in assets}
        assert {
            "customers",
            "stg_orders",
            "jaffle_shop/raw_customers",
            "jaffle_shop/raw_orders",
        } <= keys
        response = client.post(f"{DEPLOYMENT}/runs/", {"location": "shop"}, format="json")
        assert response.status_code == 201, response.content
        run_id = response.json()["id"]

        def finished():
            with tenant_context(acme.ctx()):
                run = Run.objects.get(pk=run_id)
            return run if run.status in TERMINAL_STATUSES else None

        run = wait_for(finished, "the run to finish", log=log, timeout=180)
        assert run.status == RunStatus.SUCCESS, (run.reason, log.read_text()[-3000:])
        by_key = {a["key"]: a for a in client.get(f"{DEPLOYMENT}/assets/").json()["results"]}
    for key in ("jaffle_shop/raw_customers", "stg_customers", "customers", "raw_payments"):
        assert by_key[key]["latest_materialization"]["run_id"] == run_id, key
    customers_checks = {c["name"]: c for c in by_key["customers"]["checks"]}
    assert customers_checks["unique_customers_customer_id"]["passed"] is True
    events = client.get(f"{DEPLOYMENT}/runs/{run_id}/events/?limit=500").json()["results"]
    seed = next(
        e
        for e in events
        if e["event_type"] == "asset_materialization" and e["asset_key"] == "raw_payments"
    )
    assert seed["payload"]["payload"]["metadata"]["dbt/rows_affected"] == 5  # to_dict()
    assert sum(e["event_type"] == "asset_check_evaluation" for e in events) == 9
