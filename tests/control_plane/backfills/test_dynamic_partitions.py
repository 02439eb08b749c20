"""Backfills of dynamic partitions: keys come from the deployment's store (and travel with
each launch to the agent, which holds none), policies apply as to any partitions, and "all
missing" works as for any other."""

from __future__ import annotations

import pytest

from control_plane.runs.models import RunStatus
from tests.control_plane import dynamic_project
from tests.control_plane.backfills.conftest import URL, LocalAgent, runs_of
from tests.control_plane.backfills.test_backfills import partitions
from tests.control_plane.dynamic_project import load_crm

pytestmark = pytest.mark.django_db
CUSTOMERS = ["acme", "globex", "initech"]


@pytest.fixture
def agent(acme, prod, tmp_path) -> LocalAgent:
    load_crm(acme.ctx(), prod, customer_keys=CUSTOMERS)
    return LocalAgent(
        acme.ctx(), prod, {"crm": dynamic_project.DEFINITIONS}, str(tmp_path / "storage")
    )


def launch(acme, **body) -> dict:
    response = acme.client().post(URL, {"location": "crm", **body}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def test_a_single_run_policy_over_dynamic_partitions_runs_them_all_in_one_run(acme, agent):
    created = launch(acme, selection="yearly_invoices", partition_keys=CUSTOMERS)
    assert created["num_runs"] == 1
    assert agent.drive(created["id"]).status == "succeeded"
    [run] = runs_of(acme)
    assert (run.partition_range_start, run.partition_range_end) == ("acme", "initech")
    assert run.status == RunStatus.SUCCESS
    statuses = {(p["partition"], p["status"]) for p in partitions(acme, created["id"])}
    assert statuses == {(key, "succeeded") for key in CUSTOMERS}


def test_all_missing_over_dynamic_partitions_plans_the_keys_never_materialized(acme, agent):
    first = launch(acme, selection="invoices", partition_keys=["globex"])
    assert agent.drive(first["id"]).status == "succeeded"
    missing = launch(acme, selection="invoices", all_missing=True)
    assert [p["partition"] for p in partitions(acme, missing["id"])] == ["acme", "initech"]


def test_an_unknown_dynamic_key_is_a_400_naming_it(acme, agent):
    response = acme.client().post(
        URL,
        {"location": "crm", "selection": "invoices", "partition_keys": ["acme", "hooli"]},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"]["partition_keys"] == [
        "Partition 'hooli' is not a partition of any selected asset."
    ]
