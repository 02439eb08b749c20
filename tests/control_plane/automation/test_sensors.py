"""Sensors in the hosted product, end to end: the agent evaluates them in the code
location, the daemon launches what they ask for once, and one that raises fails only its
own tick."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.utils import timezone

from control_plane.alerts.models import Incident
from control_plane.automation.models import DaemonTick, InstigatorState
from control_plane.automation.schedules import tick_schedules
from control_plane.automation.sensors import tick_sensors
from control_plane.catalog.models import DynamicPartition
from control_plane.core.context import tenant_context
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from tests.control_plane.api.database import require_postgresql
from tests.control_plane.real_agent import real_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

PROJECT = """
import os
from pathlib import Path
from assay import (AddDynamicPartitionsRequest, Definitions, DynamicPartitionsDefinition,
                   RunRequest, SensorResult, SkipReason, asset, schedule, sensor)

INBOX = Path(os.environ.get("INBOX", "inbox"))
files = DynamicPartitionsDefinition(name="files")


@asset(partitions_def=files)
def parsed_file(context) -> str:
    return context.partition_key.upper()


@asset
def heartbeat() -> int:
    return 1


@sensor(target=parsed_file, minimum_interval_seconds=1)
def new_files(context):
    seen = set(filter(None, (context.cursor or "").split(",")))
    fresh = sorted(p.name for p in INBOX.iterdir() if p.name not in seen)
    if not fresh:
        return SkipReason("no new files")
    return SensorResult(
        run_requests=[RunRequest(run_key=name, partition_key=name) for name in fresh],
        cursor=",".join(sorted(seen | set(fresh))),
        dynamic_partitions_requests=[AddDynamicPartitionsRequest("files", tuple(fresh))],
    )


@sensor(target=heartbeat, minimum_interval_seconds=1)
def vendor_api():
    raise RuntimeError("the vendor API answered 503")


@sensor(target=heartbeat, minimum_interval_seconds=1)
def same_key_always():
    return RunRequest(run_key="only-once")


@schedule(cron_schedule="* * * * *", target=heartbeat, name="every_minute")
def every_minute(context):
    return RunRequest(tags={"minute": context.scheduled_execution_time.strftime("%H:%M")})


defs = Definitions(assets=[parsed_file, heartbeat],
                   sensors=[new_files, vendor_api, same_key_always], schedules=[every_minute])
"""

URL = "/api/v1/orgs/acme/deployments/prod/"


def start(acme, kind: str, name: str) -> None:
    response = acme.client().patch(f"{URL}{kind}s/{name}/", {"status": "running"}, format="json")
    assert response.status_code == 200, response.content


def finished_ticks(acme, name: str) -> list[DaemonTick]:
    with tenant_context(acme.ctx()):
        return list(DaemonTick.objects.filter(name=name).exclude(status="started").order_by("id"))


def pump(acme, predicate, what: str, log) -> None:
    """Run sensor and schedule passes (as the daemon does) until ``predicate`` holds."""

    def step():
        tick_sensors()
        tick_schedules()
        return predicate()

    wait_for(step, what, timeout=90, log=log)


def test_a_raising_sensor_fails_its_tick_and_the_others_keep_running(acme, tmp_path):
    require_postgresql()  # a real agent and the daemon write at once: one SQLite writer
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    (inbox / "a.csv").write_text("1")
    (inbox / "b.csv").write_text("2")
    with real_agent(acme, tmp_path, project=PROJECT) as log:
        for name in ("new_files", "vendor_api", "same_key_always"):
            start(acme, "sensor", name)
        start(acme, "schedule", "every_minute")
        with tenant_context(acme.ctx()):  # a tick is due at once
            InstigatorState.objects.filter(name="every_minute").update(
                last_tick_time=datetime(2024, 1, 1, tzinfo=UTC)
            )
        pump(
            acme,
            lambda: (
                finished_ticks(acme, "new_files")
                and finished_ticks(acme, "vendor_api")
                and len(finished_ticks(acme, "same_key_always")) >= 2
                and finished_ticks(acme, "every_minute")
            ),
            "every sensor and the schedule to tick",
            log,
        )

        broken = finished_ticks(acme, "vendor_api")[0]
        assert broken.status == "failure"
        assert "RuntimeError: the vendor API answered 503" in broken.error
        with tenant_context(acme.ctx()):
            incident = Incident.objects.get(kind="tick_failure")
        assert incident.key == "sensor:shop/vendor_api" and incident.resolved_at is None

        files_tick = finished_ticks(acme, "new_files")[0]
        assert files_tick.status == "success"
        with tenant_context(acme.ctx()):
            runs = {r.partition_key: r for r in Run.objects.filter(pk__in=files_tick.run_ids)}
            assert sorted(runs) == ["a.csv", "b.csv"]
            assert set(DynamicPartition.objects.values_list("partitions_def_name", "key")) == {
                ("files", "a.csv"),
                ("files", "b.csv"),
            }
            state = InstigatorState.objects.get(name="new_files")
        assert state.cursor == "a.csv,b.csv"

        first, second = finished_ticks(acme, "same_key_always")[:2]
        assert (first.status, len(first.run_ids)) == ("success", 1)
        assert second.status == "skipped"
        assert second.skip_reason == "every run key had launched before (only-once)"

        schedule_tick = finished_ticks(acme, "every_minute")[0]
        assert schedule_tick.status == "success"
        assert schedule_tick.scheduled_time <= timezone.now()

        def runs_done():
            with tenant_context(acme.ctx()):
                return all(r.status in TERMINAL_STATUSES for r in Run.objects.all())

        wait_for(runs_done, "the launched runs to finish", log=log)
        with tenant_context(acme.ctx()):
            assert set(Run.objects.values_list("status", flat=True)) == {RunStatus.SUCCESS}

        sensors = {s["name"]: s for s in acme.client().get(URL + "sensors/").json()["results"]}
        assert sensors["new_files"]["cursor"] == "a.csv,b.csv"
        assert sensors["vendor_api"]["status"] == "running"  # it keeps being polled
        failures = acme.client().get(URL + "ticks/?loop=sensor&name=vendor_api&status=failure")
        assert "the vendor API answered 503" in failures.json()["results"][0]["error"]
