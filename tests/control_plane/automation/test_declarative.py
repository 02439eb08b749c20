"""The declarative automation loop: a tick evaluates the deployment's conditions over the
catalog, queues what they request through the run queue, and keeps why, per asset."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC
from control_plane.audit.models import AuditEvent
from control_plane.automation.declarative import tick_automation
from control_plane.automation.models import AutomationEvaluation, AutomationState, DaemonTick
from control_plane.catalog.models import AssetStatusChange, AssetStatusSummary
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run, RunStatus
from control_plane.tenancy import queries
from control_plane.tenancy.roles import Role
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.automation.history import SHOP, History, load_definitions, orders
from tests.control_plane.factories import DEFINITIONS as NO_CONDITIONS

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
API = "/api/v1/orgs/acme/deployments/prod/"


def _history(world, defs: Definitions = SHOP) -> History:
    ctx = world.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    location = load_definitions(ctx, prod, "shop", defs)
    return History(ctx, prod, location, clock=T0.timestamp())


@pytest.fixture
def shop(acme) -> History:
    return _history(acme)


def automation_ticks(world) -> list[DaemonTick]:
    with tenant_context(world.ctx()):
        return list(DaemonTick.objects.filter(loop="automation").order_by("id"))


def runs(world) -> list[Run]:
    with tenant_context(world.ctx()):
        return list(Run.objects.filter(tags__has_key="assay/automation").order_by("created_at"))


def test_an_eager_asset_is_requested_once_after_its_parent_updates_and_says_why(acme, shop):
    assert tick_automation(now=T0) == 1  # the first tick: nothing has a "since" yet
    assert runs(acme) == []

    shop.materialize("orders")
    tick_automation(now=T0 + timedelta(minutes=1))
    [run] = runs(acme)
    requesting = automation_ticks(acme)[-1]
    assert (run.status, run.selection, run.asset_keys) == ("QUEUED", "order_count", ["order_count"])
    assert run.tags == {"assay/automation": str(requesting.pk)}
    assert run.launched_by == "automation"
    assert requesting.status == "success" and requesting.run_ids == [str(run.id)]
    assert requesting.details["num_requested"] == 1
    assert requesting.details["requested"] == {"order_count": 1}

    # Queued, then running: in progress, so not requested again.
    tick_automation(now=T0 + timedelta(minutes=2))
    shop.begin(run)
    tick_automation(now=T0 + timedelta(minutes=3))
    shop.step(run, "order_count")
    shop.end(run)
    tick_automation(now=T0 + timedelta(minutes=4))
    assert runs(acme) == [run]
    assert [t.status for t in automation_ticks(acme)] == ["skipped", "success"] + ["skipped"] * 3

    latest = acme.client().get(API + "automation/assets/order_count/evaluations/").json()
    why = next(e for e in latest["results"] if e["tick_id"] == requesting.pk)
    assert why["num_requested"] == 1 and why["run_ids"] == [str(run.id)]
    assert why["explanation"]["condition"] == "eager()"
    assert why["explanation"]["true"] == 1
    labels = [child["condition"] for child in why["explanation"]["children"]]
    assert "~in_progress()" in labels
    newest = latest["results"][0]
    assert newest["tick_id"] > requesting.pk and newest["num_requested"] == 0

    in_tick = acme.client().get(API + f"ticks/{requesting.pk}/evaluations/").json()["results"]
    assert [e["asset_key"] for e in in_tick] == ["order_count"]


def test_evaluations_of_an_unknown_asset_or_tick_are_not_found(acme, shop):
    client = acme.client()
    assert client.get(API + "automation/assets/no_such/evaluations/").status_code == 404
    assert client.get(API + "ticks/999999/evaluations/").status_code == 404
    never = client.get(API + "automation/assets/orders/evaluations/")
    assert never.status_code == 200 and never.json()["results"] == []


def test_turned_off_nothing_is_evaluated_and_turned_on_it_catches_up(acme, shop):
    client = acme.client()
    response = client.patch(API + "automation/", {"enabled": False}, format="json")
    assert response.status_code == 200 and response.json()["enabled"] is False
    [event] = AuditEvent.objects.unscoped().filter(action="automation.update")
    assert (event.before, event.after) == ({"enabled": True}, {"enabled": False})

    tick_automation(now=T0)
    shop.materialize("orders")
    tick_automation(now=T0 + timedelta(minutes=1))
    assert automation_ticks(acme) == [] and runs(acme) == []

    assert client.patch(API + "automation/", {"enabled": True}, format="json").status_code == 200
    tick_automation(now=T0 + timedelta(minutes=2))
    [run] = runs(acme)  # order_count went missing under a present parent while it was off
    assert run.asset_keys == ["order_count"]
    assert client.get(API + "automation/").json()["last_tick"]["run_ids"] == [str(run.id)]


def test_only_an_editor_turns_automation_off_and_bad_input_changes_nothing(acme, shop):
    prod = shop.deployment
    _, launcher = acme.member_with_role(Role.LAUNCHER, scope=prod)
    _, editor = acme.member_with_role(Role.EDITOR, scope=prod)
    url = API + "automation/"
    assert acme.client(launcher).get(url).json()["enabled"] is True
    refused = acme.client(launcher).patch(url, {"enabled": False}, format="json")
    assert refused.status_code == 403
    for body in ({}, {"enabled": "maybe"}, {"enabled": False, "extra": 1}):
        assert acme.client(editor).patch(url, body, format="json").status_code == 400
    assert acme.client(editor).get(url).json()["enabled"] is True
    assert not AuditEvent.objects.unscoped().filter(action="automation.update").exists()
    assert acme.client(editor).patch(url, {"enabled": False}, format="json").status_code == 200


def test_a_tick_whose_runs_cannot_launch_fails_loudly_and_keeps_its_cursor(acme, monkeypatch):
    from control_plane.automation import requested_runs

    monkeypatch.setattr(requested_runs, "MAX_SELECTION", 2000)  # reached with 40 long names
    long_names = [
        asset(
            name=f"table_with_a_rather_long_descriptive_name_number_{i:03d}",
            automation_condition=AC.missing(),
        )(lambda: None)
        for i in range(40)
    ]
    _history(acme, Definitions(assets=[*long_names, orders]))
    tick_automation(now=T0)
    tick_automation(now=T0 + timedelta(minutes=1))
    ticks = automation_ticks(acme)
    assert [t.status for t in ticks] == ["failure", "failure"]
    assert "no selection of at most 2000 characters" in ticks[0].error
    assert runs(acme) == []
    with tenant_context(acme.ctx()):
        state = AutomationState.objects.get()
        assert (state.cursor, state.version) == ("", 0)
        assert not AutomationEvaluation.objects.exists()


def test_a_deployment_without_conditions_records_no_ticks_but_keeps_its_status_folded(acme):
    history = _history(acme, NO_CONDITIONS)
    history.materialize("raw_orders")
    assert tick_automation(now=T0) == 0
    assert automation_ticks(acme) == []
    with tenant_context(acme.ctx()):
        assert not AssetStatusChange.objects.exists()
        assert AssetStatusSummary.objects.get().asset_key == "raw_orders"


@pytest.mark.django_db(transaction=True)
def test_two_replicas_ticking_at_once_evaluate_once_and_queue_one_run(acme):
    require_postgresql()  # replicas at once: SQLite has one writer by design
    history = _history(acme)
    tick_automation(now=T0)
    history.materialize("orders")
    start = threading.Barrier(2)
    handled: list[int] = []

    def replica(now: datetime) -> None:
        try:
            start.wait(10)
            handled.append(tick_automation(now=now))
        finally:
            connection.close()

    moments = [T0 + timedelta(minutes=1), T0 + timedelta(minutes=1, seconds=5)]
    threads = [threading.Thread(target=replica, args=(m,)) for m in moments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(handled) == [0, 1]
    assert len(automation_ticks(acme)) == 2  # the first tick, and one for this interval
    [run] = runs(acme)
    assert run.status == RunStatus.QUEUED
    with tenant_context(acme.ctx()):
        assert AutomationEvaluation.objects.filter(asset_key="order_count").count() == 2


def test_dynamic_partitions_come_from_the_deployments_store(acme):
    from assay import DynamicPartitionsDefinition
    from control_plane.catalog.dynamic_partitions import DeploymentDynamicPartitions

    files = DynamicPartitionsDefinition(name="files")

    @asset(partitions_def=files)
    def landed() -> None: ...

    @asset(partitions_def=files, automation_condition=AC.eager(), deps=["landed"])
    def parsed() -> None: ...

    history = _history(acme, Definitions(assets=[landed, parsed]))
    with tenant_context(acme.ctx()):
        DeploymentDynamicPartitions(history.deployment).add_dynamic_partitions(
            "files", ["a.csv", "b.csv"]
        )
    tick_automation(now=T0)
    history.materialize("landed", "b.csv")
    tick_automation(now=T0 + timedelta(minutes=1))
    [run] = runs(acme)
    assert (run.asset_keys, run.partition_key) == (["parsed"], "b.csv")


def test_a_tick_requesting_many_named_assets_launches_one_run_naming_them_all(acme):
    long_names = [
        asset(
            name=f"table_with_a_rather_long_descriptive_name_number_{i:03d}",
            automation_condition=AC.missing(),
        )(lambda: None)
        for i in range(40)
    ]
    _history(acme, Definitions(assets=[*long_names, orders]))
    tick_automation(now=T0)
    [tick] = automation_ticks(acme)
    assert tick.status == "success", tick.error
    [run] = runs(acme)
    assert len(run.selection) > 2000
    assert len(run.asset_keys) == 40


def test_changes_while_turned_off_are_folded_and_new_to_the_first_tick_turned_on(acme, shop):
    tick_automation(now=T0)
    shop.materialize("orders")
    tick_automation(now=T0 + timedelta(minutes=1))
    [run] = runs(acme)
    shop.begin(run)
    shop.step(run, "order_count")
    shop.end(run)
    tick_automation(now=T0 + timedelta(minutes=2))
    assert runs(acme) == [run]  # order_count is up to date

    def last_orders() -> datetime:
        with tenant_context(acme.ctx()):
            return AssetStatusSummary.objects.get(asset_key="orders").last_materialized_at

    client = acme.client()
    assert client.patch(API + "automation/", {"enabled": False}, format="json").status_code == 200
    before = last_orders()
    shop.materialize("orders")  # the parent updates while automation is off
    tick_automation(now=T0 + timedelta(minutes=3))
    with tenant_context(acme.ctx()):
        assert not AssetStatusChange.objects.exists()  # folded: the queue does not grow
    assert last_orders() > before

    assert client.patch(API + "automation/", {"enabled": True}, format="json").status_code == 200
    tick_automation(now=T0 + timedelta(minutes=4))
    latest = runs(acme)[-1]
    assert latest != run and latest.asset_keys == ["order_count"]  # its parent updated
    tick_automation(now=T0 + timedelta(minutes=5))
    assert len(runs(acme)) == 2  # new to that one tick only


def test_only_a_committed_tick_leaves_its_decoded_cursor_for_the_next(
    acme, shop, django_capture_on_commit_callbacks
):
    from django.db import transaction

    from control_plane.automation import declarative, ticks

    class Abort(Exception):
        pass

    deployment = shop.deployment
    with ticks.daemon_context(deployment, "automation"):
        with pytest.raises(Abort), transaction.atomic():
            declarative.tick_deployment(deployment=deployment, now=T0)
            raise Abort  # the tick's transaction never commits
        assert deployment.pk not in declarative._cursors

        with django_capture_on_commit_callbacks(execute=True):
            declarative.tick_deployment(deployment=deployment, now=T0)
        version, cursor = declarative._cursors[deployment.pk]
        state = AutomationState.objects.get(deployment=deployment)
        assert (version, cursor.to_json()) == (state.version, state.cursor)


def test_a_tick_reads_each_locations_definitions_once_however_many_runs_it_queues(acme, globex):
    from assay import StaticPartitionsDefinition
    from control_plane.automation import ticks
    from control_plane.automation.declarative import tick_deployment
    from control_plane.runs import services as run_services

    def snapshot_reads(world, partitions: list[str]) -> int:
        @asset(
            partitions_def=StaticPartitionsDefinition(partitions),
            automation_condition=AC.missing(),
        )
        def regions() -> None: ...

        history = _history(world, Definitions(assets=[regions]))
        with (
            ticks.daemon_context(history.deployment, "automation"),
            CaptureQueriesContext(connection) as tick,
        ):
            tick_deployment(deployment=history.deployment, now=T0)
        assert len(runs(world)) == len(partitions)  # one run per partition
        with tenant_context(world.ctx()), CaptureQueriesContext(connection) as launch:
            run_services.launch_run(
                ctx=world.ctx(),
                deployment=history.deployment,
                location=history.location,
                selection="regions",
                partition_key=partitions[0],
            )
        return _reads(tick) - len(partitions) * _reads(launch)  # beyond each run's launch

    assert snapshot_reads(acme, ["eu"]) == snapshot_reads(globex, ["eu", "us", "apac"])


def _reads(queries: CaptureQueriesContext) -> int:
    return sum('"catalog_locationsnapshot"' in q["sql"] for q in queries.captured_queries)
