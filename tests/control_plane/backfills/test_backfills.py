"""Backfills in the hosted control plane: planned when requested, launched run by run by
the daemon under the backfill's concurrency, failures isolated to what depends on them,
cancel / resume / retry-failed, progress per partition in the API."""

from __future__ import annotations

import pytest
from django.utils import timezone

from control_plane.audit.models import AuditEvent
from control_plane.automation.models import DaemonTick
from control_plane.backfills.loop import tick_backfills
from control_plane.backfills.models import Backfill
from control_plane.core.context import tenant_context
from control_plane.daemon import all_loops
from control_plane.runs.models import Run, RunStatus
from tests.control_plane.backfills import project
from tests.control_plane.backfills.conftest import URL, runs_of

pytestmark = pytest.mark.django_db
JANUARY = {"start": "2024-01-01", "end": "2024-01-30"}


def launch(acme, **body) -> dict:
    body.setdefault("selection", "raw, cleaned, report")
    body.setdefault("partition_range", JANUARY)
    response = acme.client().post(URL, body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def detail(acme, backfill_id) -> dict:
    response = acme.client().get(f"{URL}{backfill_id}/")
    assert response.status_code == 200, response.content
    return response.json()


def partitions(acme, backfill_id, **query) -> list[dict]:
    response = acme.client().get(f"{URL}{backfill_id}/partitions/", query)
    assert response.status_code == 200, response.content
    return response.json()["results"]


def test_a_request_is_planned_and_stored_and_the_daemon_launches_it(acme, shop):
    created = launch(acme, max_concurrent_runs=3, tags={"team": "finance"})
    # raw+cleaned run together per day (30 runs), report once after all of them.
    assert created["status"] == "requested"
    assert created["num_runs"] == 31
    assert created["run_counts"]["requested"] == 31
    assert created["partition_counts"]["requested"] == 30 * 2 + 1
    assert runs_of(acme) == []  # the request itself launches nothing
    [audit] = AuditEvent.objects.unscoped().filter(action="backfill.launch")
    assert audit.after["runs"] == 31 and audit.after["partition_range"] == list(JANUARY.values())

    assert tick_backfills() == 1
    runs = runs_of(acme)
    assert [r.partition_key for r in runs] == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert {r.selection for r in runs} == {"raw, cleaned"}
    assert {r.status for r in runs} == {RunStatus.QUEUED}  # the normal run queue
    for run in runs:
        assert run.tags == {"team": "finance", "assay/backfill": created["id"]}
        assert str(run.backfill_id) == created["id"]
    assert tick_backfills() == 0  # three in flight already: nothing to do, no tick
    [tick] = DaemonTick.objects.unscoped().filter(loop="backfill")
    assert tick.name == created["id"] and tick.status == "success"
    assert sorted(tick.run_ids) == sorted(str(r.id) for r in runs)
    shown = detail(acme, created["id"])
    assert shown["run_counts"]["in_progress"] == 3 and shown["run_counts"]["requested"] == 28


def test_one_failed_partition_skips_only_its_downstream_and_retry_reruns_only_it(acme, agent):
    project.BROKEN.add("raw")
    created = launch(acme, max_concurrent_runs=4)
    finished = agent.drive(created["id"])
    assert finished.status == "failed"
    shown = detail(acme, created["id"])
    assert shown["run_counts"] == {
        "requested": 0,
        "in_progress": 0,
        "succeeded": 29,
        "failed": 1,
        "canceled": 0,
        "skipped": 1,
    }
    # 29 days of raw and cleaned succeeded; on the 15th raw failed and cleaned (in the same
    # run) never ran; report, which reads every day, was never launched.
    assert shown["partition_counts"]["succeeded"] == 58
    assert shown["partition_counts"]["failed"] == 1
    assert shown["partition_counts"]["skipped"] == 2
    failed = partitions(acme, created["id"], status="failed")
    assert [(p["asset_key"], p["partition"]) for p in failed] == [("raw", project.BAD_DAY)]
    assert "the raw file for 2024-01-15 is corrupt" in failed[0]["reason"]
    skipped = {p["asset_key"]: p for p in partitions(acme, created["id"], status="skipped")}
    assert skipped["cleaned"]["partition"] == project.BAD_DAY
    assert skipped["cleaned"]["reason"] == "upstream step 'raw' failed"
    assert skipped["report"]["reason"] == "upstream run raw, cleaned [2024-01-15] failed"
    assert skipped["report"]["run_ids"] == []
    assert not [r for r in runs_of(acme) if "report" in r.asset_keys]
    problems = {p["status"]: p for p in shown["problems"]}
    assert problems["failed"]["description"] == "raw, cleaned [2024-01-15]"
    assert problems["failed"]["asset_statuses"] == {"cleaned": "skipped"}
    assert shown["problem_count"] == 2

    project.BROKEN.clear()
    before = {r.id for r in runs_of(acme)}
    response = acme.client().post(f"{URL}{created['id']}/retry-failed/")
    assert response.status_code == 200, response.content
    assert response.json()["run_counts"]["requested"] == 2
    assert agent.drive(created["id"]).status == "succeeded"
    again = [r for r in runs_of(acme) if r.id not in before]
    assert [(r.selection, r.partition_key) for r in again] == [
        ("raw, cleaned", project.BAD_DAY),
        ("report", ""),
    ]
    assert all(r.status == RunStatus.SUCCESS for r in again)
    assert detail(acme, created["id"])["partition_counts"]["succeeded"] == 61
    [audit] = AuditEvent.objects.unscoped().filter(action="backfill.retry_failed")
    assert audit.before["status"] == "failed" and audit.after["runs_requested_again"] == 2


def test_assets_that_succeeded_inside_a_failed_run_are_reported_succeeded(acme, agent):
    project.BROKEN.add("cleaned")
    created = launch(
        acme, selection="raw, cleaned", partition_range={"start": "2024-01-14", "end": "2024-01-16"}
    )
    agent.drive(created["id"])
    statuses = {
        (p["asset_key"], p["partition"]): p["status"] for p in partitions(acme, created["id"])
    }
    assert statuses[("raw", project.BAD_DAY)] == "succeeded"  # its check passed too
    assert statuses[("cleaned", project.BAD_DAY)] == "failed"
    assert statuses[("cleaned", "2024-01-16")] == "succeeded"


def test_cancel_launches_nothing_more_terminates_running_runs_and_resume_finishes(acme, agent):
    created = launch(acme, selection="raw, cleaned", max_concurrent_runs=2)
    tick_backfills()
    first, _second = agent.queued()
    agent.start(first)  # running on the agent; the second is still queued

    response = acme.client().post(f"{URL}{created['id']}/cancel/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "canceling"
    first_run, second_run = runs_of(acme)
    assert first_run.status == RunStatus.CANCELING  # the agent is asked to stop it
    assert second_run.status == RunStatus.CANCELED  # never dispatched: canceled at once
    tick_backfills()
    assert len(runs_of(acme)) == 2  # nothing new launches while canceling
    assert Backfill.objects.unscoped().get().status == "canceling"
    agent.report_status(first, "CANCELED", reason="terminated")
    tick_backfills()
    shown = detail(acme, created["id"])
    assert shown["status"] == "canceled"
    assert shown["run_counts"]["canceled"] == 30 and shown["finished_at"]
    actions = list(AuditEvent.objects.unscoped().order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["run.terminate", "backfill.cancel"]
    assert acme.client().post(f"{URL}{created['id']}/cancel/").status_code == 409

    response = acme.client().post(f"{URL}{created['id']}/resume/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "requested"
    assert agent.drive(created["id"]).status == "succeeded"
    assert detail(acme, created["id"])["partition_counts"]["succeeded"] == 60
    assert acme.client().post(f"{URL}{created['id']}/resume/").status_code == 409
    assert acme.client().post(f"{URL}{created['id']}/retry-failed/").status_code == 409


def test_a_run_retried_by_its_max_retries_tag_counts_by_its_last_attempt(acme, agent):
    project.BROKEN.add("raw")
    created = launch(
        acme,
        selection="raw",
        partition_range={"start": project.BAD_DAY, "end": project.BAD_DAY},
        tags={"max_retries": "1"},
    )
    tick_backfills()
    [run] = agent.queued()
    agent.execute(run)  # fails; the run queue queues its retry
    tick_backfills()
    assert detail(acme, created["id"])["run_counts"]["in_progress"] == 1
    project.BROKEN.clear()
    [retry] = agent.queued()
    assert retry.parent_run_id == run.id
    agent.execute(retry)
    tick_backfills()
    shown = detail(acme, created["id"])
    assert shown["status"] == "succeeded"
    assert partitions(acme, created["id"])[0]["run_ids"] == [str(retry.id)]


def test_a_run_canceled_by_a_person_fails_its_partition_and_skips_its_downstream(acme, agent):
    created = launch(acme, partition_range={"start": "2024-01-01", "end": "2024-01-02"})
    tick_backfills()
    [first] = agent.queued()
    response = acme.client().post(
        f"/api/v1/orgs/acme/deployments/prod/runs/{first.id}/terminate/", {}, format="json"
    )
    assert response.status_code == 200
    finished = agent.drive(created["id"])
    assert finished.status == "failed"
    failed = partitions(acme, created["id"], status="failed")
    assert {p["partition"] for p in failed} == {"2024-01-01"}
    assert f"run {first.id} was canceled" in failed[0]["reason"]
    skipped = partitions(acme, created["id"], status="skipped", asset="report")
    assert skipped[0]["reason"] == "upstream run raw, cleaned [2024-01-01] failed"


def test_all_missing_backfills_only_partitions_never_materialized(acme, agent):
    first = launch(
        acme, selection="unrelated", partition_range={"start": "2024-01-01", "end": "2024-01-10"}
    )
    agent.drive(first["id"])
    everything = launch(acme, selection="unrelated", partition_range=None, all_missing=True)
    # Days 1-10 are done; only the other twenty of January are planned.
    planned = [p["partition"] for p in partitions(acme, everything["id"], limit=5)]
    assert planned == ["2024-01-11", "2024-01-12", "2024-01-13", "2024-01-14", "2024-01-15"]
    assert len(partitions(acme, everything["id"], limit=1000)) == 20


def test_partition_pages_follow_next_links(acme, shop):
    created = launch(acme, selection="raw, cleaned")
    response = acme.client().get(f"{URL}{created['id']}/partitions/", {"limit": 25})
    page = response.json()
    seen = [(p["asset_key"], p["partition"]) for p in page["results"]]
    while page["next"]:
        page = acme.client().get(page["next"]).json()
        seen += [(p["asset_key"], p["partition"]) for p in page["results"]]
    assert len(seen) == len(set(seen)) == 60
    assert seen[:2] == [("raw", "2024-01-01"), ("cleaned", "2024-01-01")]


def test_backfills_are_listed_newest_first_and_filtered_by_status(acme, shop):
    older = launch(acme, selection="raw")
    newer = launch(acme, selection="unrelated")
    acme.client().post(f"{URL}{older['id']}/cancel/")
    listed = acme.client().get(URL).json()["results"]
    assert [b["id"] for b in listed] == [newer["id"], older["id"]]
    assert "plan" not in listed[0] and listed[0]["run_counts"]["requested"] == 30
    canceled = acme.client().get(URL, {"status": "canceled"}).json()["results"]
    assert [b["id"] for b in canceled] == [older["id"]]
    assert acme.client().get(URL, {"status": "bogus"}).status_code == 400


def test_the_daemon_runs_the_backfill_loop_every_configured_interval(settings):
    settings.DAEMON_BACKFILL_SECONDS = 2.5
    [loop] = [loop for loop in all_loops() if loop.name == "backfills"]
    assert loop.interval == 2.5 and loop.run is tick_backfills


def test_a_pass_that_raises_is_recorded_as_a_failed_tick_and_others_carry_on(acme, shop):
    broken = launch(acme, selection="raw")
    healthy = launch(acme, selection="unrelated")
    Backfill.objects.unscoped().filter(pk=broken["id"]).update(plan={"version": 99})
    assert tick_backfills() == 1
    failed = DaemonTick.objects.unscoped().get(name=broken["id"])
    assert failed.status == "failure" and "version 99" in failed.error
    assert DaemonTick.objects.unscoped().get(name=healthy["id"]).status == "success"
    with tenant_context(acme.ctx()):
        assert Run.objects.filter(backfill_id=healthy["id"]).count() == 1


def test_a_pass_that_keeps_failing_records_one_failed_tick_per_state_not_one_per_pass(acme, shop):
    created = launch(acme, selection="raw")
    Backfill.objects.unscoped().filter(pk=created["id"]).update(plan={"version": 99})
    for _ in range(3):
        assert tick_backfills() == 0
    [failed] = DaemonTick.objects.unscoped().filter(name=created["id"])
    assert failed.status == "failure" and "version 99" in failed.error
    # Changed by a person (here: its concurrency), it is a new state: its failure is new.
    with tenant_context(acme.ctx()):
        backfill = Backfill.objects.get(pk=created["id"])
        backfill.max_concurrent_runs, backfill.updated_at = 2, timezone.now()
        backfill.save()
    tick_backfills()
    tick_backfills()
    assert DaemonTick.objects.unscoped().filter(name=created["id"]).count() == 2


def test_a_backfill_whose_plan_cannot_be_read_can_be_canceled_but_not_resumed(acme, agent):
    created = launch(acme, selection="raw", max_concurrent_runs=2)
    tick_backfills()
    first, _queued = agent.queued()
    agent.start(first)  # running on the agent; the other is still queued
    Backfill.objects.unscoped().filter(pk=created["id"]).update(plan={"version": 99})
    client = acme.client()
    for action in ("resume", "retry-failed"):
        refused = client.post(f"{URL}{created['id']}/{action}/")
        assert refused.status_code == 409, refused.content
        assert "stored plan cannot be read" in refused.json()["detail"]
    assert client.get(f"{URL}{created['id']}/partitions/").status_code == 409
    shown = detail(acme, created["id"])
    assert (shown["num_runs"], shown["run_counts"]["in_progress"]) == (30, 2)

    canceled = client.post(f"{URL}{created['id']}/cancel/")
    assert canceled.status_code == 200, canceled.content
    assert canceled.json()["status"] == "canceled" and canceled.json()["finished_at"]
    assert [r.status for r in runs_of(acme)] == [RunStatus.CANCELING, RunStatus.CANCELED]
    [audit] = AuditEvent.objects.unscoped().filter(action="backfill.cancel")
    assert audit.after["runs_terminated"] == 2
    assert "version 99" in audit.after["unreadable_plan"]
    assert tick_backfills() == 0  # no longer active: no more failing passes
    assert not DaemonTick.objects.unscoped().filter(name=created["id"], status="failure")
    again = client.post(f"{URL}{created['id']}/cancel/")
    assert again.status_code == 409 and "is canceled" in again.json()["detail"]
