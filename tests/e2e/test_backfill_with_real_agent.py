"""A 30-day backfill end to end: the REST API, the daemon's backfill loop and run queue (the
real ``run_loops`` threads), the real gRPC servicer and a real ``assay-agent`` subprocess
executing every run, on PostgreSQL.

One day's ``raw`` raises while a marker file exists: the other 29 days succeed, ``cleaned``
of that day never runs and the ``report`` that reads every day is never launched (the API
says why); after the marker is gone, retry-failed re-runs only that day and the report.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from control_plane.backfills.loop import tick_backfills
from control_plane.core.context import tenant_context
from control_plane.daemon import Loop
from control_plane.runs.models import Run, RunStatus
from tests.control_plane.conftest import OrgWorld, make_org
from tests.control_plane.real_agent import real_agent
from tests.control_plane.real_agent import wait_for as harness_wait_for

pytestmark = pytest.mark.django_db(transaction=True)
BAD_DAY = "2024-01-15"
BACKFILLS = "/api/v1/orgs/acme/deployments/prod/backfills/"

PROJECT = """
from pathlib import Path

from assay import BackfillPolicy, DailyPartitionsDefinition, Definitions, asset

MARKER = Path({marker!r})
january = DailyPartitionsDefinition(start_date="2024-01-01", end_date="2024-01-31")


@asset(partitions_def=january, backfill_policy=BackfillPolicy.multi_run(1))
def raw(context) -> str:
    if context.partition_key == {bad_day!r} and MARKER.exists():
        raise ValueError("the export for {bad_day} is truncated")
    return context.partition_key


@asset(partitions_def=january, backfill_policy=BackfillPolicy.multi_run(1))
def cleaned(raw: str) -> str:
    return raw.replace("-", "")


@asset
def report(cleaned: dict) -> int:
    return len(cleaned)


defs = Definitions(assets=[raw, cleaned, report])
"""


@pytest.fixture
def acme(transactional_db) -> OrgWorld:
    return make_org("acme")


@pytest.fixture
def control_plane_with_agent(acme, tmp_path) -> Iterator[Path]:
    """gRPC servicer + daemon loops (run queue, backfills) in threads, the agent as a
    subprocess; yields the project directory."""
    (tmp_path / "marker").write_text("present")
    source = PROJECT.format(marker=str(tmp_path / "marker"), bad_day=BAD_DAY)
    with real_agent(
        acme,
        tmp_path,
        project=source,
        module="january_defs",
        location="january",
        loops=[Loop("backfills", 0.2, tick_backfills)],
    ):
        yield tmp_path


def wait_for(predicate, what: str, log: Path, timeout: float = 90.0):
    return harness_wait_for(predicate, what, timeout=timeout, log=log)


def finished(client, backfill_id: str):
    def check():
        shown = client.get(f"{BACKFILLS}{backfill_id}/").json()
        return shown if shown["status"] not in ("requested", "canceling") else None

    return check


def test_a_failing_day_skips_only_its_downstream_and_retry_failed_reruns_only_it(
    acme, control_plane_with_agent
):
    workdir = control_plane_with_agent
    log = workdir / "agent.log"
    client = acme.client()
    assets = "/api/v1/orgs/acme/deployments/prod/assets/"
    wait_for(lambda: client.get(assets).json()["results"], "the location's snapshot", log)
    response = client.post(
        BACKFILLS,
        {
            "selection": "raw, cleaned, report",
            "partition_range": {"start": "2024-01-01", "end": "2024-01-30"},
            "max_concurrent_runs": 6,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    backfill_id = response.json()["id"]

    shown = wait_for(finished(client, backfill_id), "the backfill to finish", log)
    assert shown["status"] == "failed", shown
    assert shown["run_counts"]["succeeded"] == 29
    assert (shown["run_counts"]["failed"], shown["run_counts"]["skipped"]) == (1, 1)
    assert shown["partition_counts"]["succeeded"] == 58  # raw and cleaned, 29 days each
    rows = client.get(f"{BACKFILLS}{backfill_id}/partitions/", {"limit": 1000}).json()["results"]
    problems = {(r["asset_key"], r["partition"]): r for r in rows if r["status"] != "succeeded"}
    assert set(problems) == {("raw", BAD_DAY), ("cleaned", BAD_DAY), ("report", None)}
    assert problems[("raw", BAD_DAY)]["status"] == "failed"
    assert f"the export for {BAD_DAY} is truncated" in problems[("raw", BAD_DAY)]["reason"]
    assert problems[("cleaned", BAD_DAY)]["reason"] == "upstream step 'raw' failed"
    assert problems[("report", None)]["status"] == "skipped"
    assert problems[("report", None)]["reason"] == f"upstream run raw, cleaned [{BAD_DAY}] failed"
    with tenant_context(acme.ctx()):
        runs = list(Run.objects.filter(backfill_id=backfill_id))
        assert len(runs) == 30 and not [r for r in runs if "report" in r.asset_keys]
        assert {r.partition_key for r in runs if r.status == RunStatus.FAILURE} == {BAD_DAY}
    materialized = client.get(f"{assets}raw/").json()["partitions"]
    assert materialized["materialized"] == 29 and materialized["failed"] == 1

    (workdir / "marker").unlink()
    retry = client.post(f"{BACKFILLS}{backfill_id}/retry-failed/")
    assert retry.status_code == 200, retry.content
    shown = wait_for(finished(client, backfill_id), "the retried backfill to finish", log)
    assert shown["status"] == "succeeded", shown
    assert shown["partition_counts"]["succeeded"] == 61
    with tenant_context(acme.ctx()):
        again = [r for r in Run.objects.filter(backfill_id=backfill_id) if r not in runs]
    assert sorted((r.selection, r.partition_key) for r in again) == [
        ("raw, cleaned", BAD_DAY),
        ("report", ""),
    ]
    assert all(r.status == RunStatus.SUCCESS for r in again)
