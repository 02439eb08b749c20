"""The backfill loop as the daemon runs it: replicas share backfills without launching a
planned run twice, a planned run spanning code locations runs location by location, and
365 days x 1,000 assets stays small to store and to read."""

from __future__ import annotations

import json
import threading

import pytest
from django.db import connection, transaction

from assay import AssetSpec, DailyPartitionsDefinition, Definitions, asset
from control_plane.automation.models import DaemonTick
from control_plane.backfills.loop import tick_backfills
from control_plane.backfills.models import Backfill
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import tenant_context
from control_plane.runs.models import RunStatus
from tests.control_plane.backfills import project
from tests.control_plane.backfills.conftest import URL, LocalAgent, load_definitions, runs_of
from tests.control_plane.backfills.test_backfills import detail, launch, partitions
from tests.control_plane.factories import agent_ctx

daily = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2025-01-01")


@pytest.mark.django_db(transaction=True)
def test_two_daemon_replicas_never_launch_a_planned_run_twice(acme, shop):
    ids = [launch(acme, selection="raw", max_concurrent_runs=5)["id"] for _ in range(3)]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def replica() -> None:
        try:
            for _ in range(4):
                barrier.wait()
                tick_backfills()
        except BaseException as exc:  # reported below; a thread must not die silently
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=replica) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for backfill_id in ids:
        runs = runs_of(acme, backfill_id=backfill_id)
        assert [r.partition_key for r in runs] == [f"2024-01-0{d}" for d in range(1, 6)]
        assert detail(acme, backfill_id)["run_counts"]["in_progress"] == 5


@pytest.mark.django_db(transaction=True)
def test_a_backfill_another_replica_is_advancing_is_skipped_not_waited_for(acme, shop):
    backfill_id = launch(acme, selection="raw", max_concurrent_runs=2)["id"]
    locked, release = threading.Event(), threading.Event()

    def other_replica() -> None:
        try:
            with transaction.atomic():
                Backfill.objects.unscoped().select_for_update().get(pk=backfill_id)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    thread = threading.Thread(target=other_replica)
    thread.start()
    try:
        assert locked.wait(10)
        # SKIP LOCKED: a pass that waited for the lock would get it only when the other
        # replica lets go (after this line), and then advance the backfill: 1, not 0.
        assert tick_backfills() == 0
        assert runs_of(acme) == []
    finally:
        release.set()
        thread.join()
    assert tick_backfills() == 1
    assert len(runs_of(acme)) == 2


@pytest.mark.django_db
def test_a_location_that_fails_to_load_pauses_the_backfill_and_a_fixed_one_resumes_it(
    acme, prod, shop
):
    created = launch(acme, selection="raw", max_concurrent_runs=2)
    with tenant_context(acme.ctx()):
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=prod,
            location_name="shop",
            ok=False,
            error="SyntaxError: invalid syntax (shop.py, line 3)",
        )
    assert tick_backfills() == 1  # it records why it waits, once
    assert tick_backfills() == 0
    shown = detail(acme, created["id"])
    assert shown["waiting_reason"] == "waiting for code location 'shop' to load"
    assert shown["status"] == "requested" and shown["run_counts"]["requested"] == 30
    assert runs_of(acme) == []
    load_definitions(acme.ctx(), prod, "shop", project.DEFINITIONS)
    tick_backfills()
    assert detail(acme, created["id"])["waiting_reason"] == ""
    assert len(runs_of(acme)) == 2


@pytest.mark.django_db
def test_a_run_that_can_no_longer_be_queued_fails_its_partition_with_the_reason(acme, prod, shop):
    created = launch(
        acme, selection="raw", partition_range={"start": "2024-01-01", "end": "2024-01-02"}
    )
    load_definitions(acme.ctx(), prod, "shop", Definitions(assets=[project.unrelated]))
    assert tick_backfills() == 1
    shown = detail(acme, created["id"])
    assert shown["status"] == "failed" and shown["run_counts"]["failed"] == 2
    reason = shown["problems"][0]["reason"]
    assert reason.startswith("could not queue raw [2024-01-01]: no asset 'raw'"), reason
    assert runs_of(acme) == []
    [tick] = DaemonTick.objects.unscoped().filter(loop="backfill")
    assert len(tick.details["launch_errors"]) == 2


@asset(partitions_def=daily)
def events() -> int:
    return 1


@asset(partitions_def=daily)
def sessions(events: int) -> int:
    return events + 1


INGEST = Definitions(assets=[events])
MARTS = Definitions(assets=[sessions, AssetSpec("events", partitions_def=daily)])


@pytest.mark.django_db
def test_a_planned_run_across_code_locations_runs_the_upstream_location_first(acme, prod, tmp_path):
    load_definitions(acme.ctx(), prod, "ingest", INGEST)
    load_definitions(acme.ctx(), prod, "marts", MARTS)
    agent = LocalAgent(acme.ctx(), prod, {"ingest": INGEST, "marts": MARTS}, str(tmp_path))
    created = launch(
        acme,
        selection="events, sessions",
        partition_range={"start": "2024-03-01", "end": "2024-03-01"},
    )
    assert created["num_runs"] == 1  # one planned run: events and sessions of March 1st
    tick_backfills()
    [first] = runs_of(acme)
    assert (first.code_location.name, first.selection) == ("ingest", "events")
    agent.run_queued()
    tick_backfills()
    [_, second] = runs_of(acme)
    assert (second.code_location.name, second.selection) == ("marts", "sessions")
    assert second.partition_key == "2024-03-01"
    assert detail(acme, created["id"])["run_counts"]["in_progress"] == 1
    agent.run_queued()
    tick_backfills()
    shown = detail(acme, created["id"])
    assert shown["status"] == "succeeded"
    [row] = partitions(acme, created["id"], asset="sessions")
    assert row["run_ids"] == [str(first.id), str(second.id)]


def _chain(length: int) -> Definitions:
    assets = []
    for i in range(length):

        def compute() -> int:
            return 1

        deps = [f"step_{i - 1:04d}"] if i else []
        assets.append(asset(name=f"step_{i:04d}", partitions_def=daily, deps=deps)(compute))
    return Definitions(assets=assets)


@pytest.mark.django_db
def test_a_year_of_a_thousand_assets_stays_small_to_store_and_read(acme, prod):
    load_definitions(acme.ctx(), prod, "big", _chain(1000))
    created = launch(
        acme,
        selection="*",
        partition_range={"start": "2024-01-01", "end": "2024-12-30"},
        max_concurrent_runs=4,
    )
    assert created["num_runs"] == 365
    assert created["partition_counts"]["requested"] == 365_000
    stored = Backfill.objects.unscoped().get()
    assert len(json.dumps(stored.plan)) < 40_000  # the 1,000 keys once, then 365 small runs
    tick_backfills()
    runs = runs_of(acme)
    assert len(runs) == 4 and {r.selection for r in runs} == {"*"}  # 1,000 keys by name: too long
    assert {len(r.asset_keys) for r in runs} == {1000}
    assert len(acme.client().get(f"{URL}{created['id']}/").content) < 5_000
    page = acme.client().get(f"{URL}{created['id']}/partitions/", {"status": "in_progress"})
    assert len(page.json()["results"]) == 200 and page.json()["next"]
    assert {r.status for r in runs} == {RunStatus.QUEUED}


@pytest.mark.django_db
def test_a_pass_reads_the_plan_only_when_one_of_its_runs_finished(acme, agent):
    created = launch(acme, selection="raw", max_concurrent_runs=2)
    assert tick_backfills() == 1
    first, _ = agent.queued()
    agent.start(first)
    # A plan this pass could not read shows whether it was read: it is not, as long as
    # none of the backfill's runs finished (started and queued runs change nothing).
    stored = Backfill.objects.unscoped().get(pk=created["id"])
    Backfill.objects.unscoped().filter(pk=stored.pk).update(plan={"version": 99})
    assert tick_backfills() == 0
    assert not DaemonTick.objects.unscoped().filter(status="failure").exists()
    agent.report_status(first, "SUCCEEDED")
    assert tick_backfills() == 0  # now it reads the plan, and fails on it
    assert DaemonTick.objects.unscoped().filter(status="failure").exists()
    Backfill.objects.unscoped().filter(pk=stored.pk).update(plan=stored.plan)
    assert tick_backfills() == 1  # the finished run is recorded, the next one queued
    assert len(runs_of(acme, backfill_id=created["id"])) == 3


@pytest.mark.django_db
def test_a_retry_queued_by_max_retries_belongs_to_the_backfill(acme, agent):
    created = launch(acme, selection="raw", max_concurrent_runs=1, tags={"max_retries": "1"})
    tick_backfills()
    [run] = agent.queued()
    agent.report_status(run, "FAILED", reason="the warehouse was down")
    [retry] = agent.queued()
    assert retry.parent_run_id == run.id
    assert str(retry.backfill_id) == created["id"]
    assert tick_backfills() == 0  # its run was replaced, not finished: nothing to do
    agent.execute(retry)
    assert tick_backfills() == 1
    assert partitions(acme, created["id"])[0]["run_ids"] == [str(retry.id)]
