"""Launching a run resolves its selection over what the code declared: groups, tags, owners
and kinds, as in the SDK (the selection syntax works everywhere)."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location

RUNS = "/api/v1/orgs/acme/deployments/prod/runs/"


@asset(group_name="finance", tags={"team": "finance"}, kinds={"sql"})
def ledger() -> int:
    return 1


@asset(owners=["ana@acme.test"], kinds={"python"})
def forecast(ledger: int) -> int:
    return ledger


@asset(tags={"team": "growth"})
def signups() -> int:
    return 1


@pytest.fixture
def finance(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    definitions = Definitions(assets=[ledger, forecast, signups])
    return load_location(acme.ctx(), deployment=prod, name="finance", definitions=definitions)


@pytest.mark.parametrize(
    ("selection", "asset_keys"),
    [
        ("tag:team=finance", ["ledger"]),
        ("owner:ana@acme.test", ["forecast"]),
        ("kind:sql", ["ledger"]),
        ("kind:sql+", ["forecast", "ledger"]),
        ("group:finance, tag:team=growth", ["ledger", "signups"]),
    ],
)
def test_a_run_selected_by_tag_owner_kind_or_group_launches_those_assets(
    acme, finance, selection, asset_keys
):
    response = acme.client().post(
        RUNS, {"location": "finance", "selection": selection}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["asset_keys"] == asset_keys


def test_a_tag_no_asset_has_is_a_400_naming_it(acme, finance):
    response = acme.client().post(
        RUNS, {"location": "finance", "selection": "tag:team=legal"}, format="json"
    )
    assert response.status_code == 400
    assert "team=legal" in response.json()["errors"]["selection"][0]
