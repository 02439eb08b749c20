"""Declarative automation end to end: a real ``assay-agent`` materializes a parent, the
daemon's automation loop sees it through the catalog and queues the eager child, the
daemon's queue loop hands that run to the agent, and the API says why it ran."""

from __future__ import annotations

import threading

import pytest

from control_plane.automation.models import DaemonTick
from control_plane.core.context import tenant_context
from control_plane.daemon import all_loops, run_loops
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from tests.control_plane.conftest import OrgWorld, make_org
from tests.control_plane.real_agent import real_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
API = "/api/v1/orgs/acme/deployments/prod/"

PROJECT = """
from assay import Definitions, asset
from assay.automation import AutomationCondition


@asset
def orders() -> list:
    return [3, 1, 2]


@asset(automation_condition=AutomationCondition.eager())
def order_count(orders: list) -> int:
    return len(orders)


defs = Definitions(assets=[orders, order_count])
"""


@pytest.fixture
def acme(transactional_db) -> OrgWorld:
    return make_org("acme")


@pytest.fixture
def daemon(settings):
    """``run_daemon``'s queue and automation loops, each in its own thread."""
    settings.DAEMON_AUTOMATION_SECONDS = 0.2
    stop = threading.Event()
    loops = [loop for loop in all_loops() if loop.name in ("queue", "automation")]
    thread = threading.Thread(target=run_loops, args=(loops,), kwargs={"stop": stop})
    thread.start()
    yield
    stop.set()
    thread.join(30)


def automation_runs(acme) -> list[Run]:
    with tenant_context(acme.ctx()):
        return list(Run.objects.filter(tags__has_key="assay/automation"))


def test_an_eager_asset_rematerializes_after_its_parent_is_materialized_by_an_agent(
    acme, tmp_path, daemon
):
    client = acme.client()
    with real_agent(acme, tmp_path, project=PROJECT, dequeue=False) as log:
        launched = client.post(API + "runs/", {"location": "shop", "selection": "orders"})
        assert launched.status_code == 201, launched.content

        def child_done():
            runs = automation_runs(acme)
            return runs if runs and runs[0].status in TERMINAL_STATUSES else None

        [run] = wait_for(child_done, "automation's run of order_count to finish", log=log)
        assert run.status == RunStatus.SUCCESS, (run.reason, log.read_text()[-3000:])
        assert run.asset_keys == ["order_count"]

        # Later ticks see the child up to date: nothing more is requested.
        seen = _ticks(acme)
        wait_for(
            lambda: _ticks(acme) >= seen + 3, "three more automation ticks", log=log, timeout=30
        )
        assert automation_runs(acme) == [run]

    assets = {a["key"]: a for a in client.get(API + "assets/").json()["results"]}
    assert assets["order_count"]["latest_materialization"]["run_id"] == str(run.id)
    tick_id = int(run.tags["assay/automation"])
    evaluations = client.get(API + "automation/assets/order_count/evaluations/").json()
    why = next(e for e in evaluations["results"] if e["tick_id"] == tick_id)
    assert why["num_requested"] == 1 and why["run_ids"] == [str(run.id)]
    assert why["explanation"]["condition"] == "eager()"
    assert evaluations["results"][0]["num_requested"] == 0  # the latest: nothing to do
    tick = client.get(API + f"ticks/{tick_id}/").json()
    assert tick["loop"] == "automation" and tick["run_ids"] == [str(run.id)]


def _ticks(acme) -> int:
    with tenant_context(acme.ctx()):
        return DaemonTick.objects.filter(loop="automation").count()
