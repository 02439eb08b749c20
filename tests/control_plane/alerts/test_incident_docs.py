"""docs/alerts.md's account of what opens incidents stays true: every kind is listed, the
documented freshness details and the assets API's ``freshness`` field are what is produced,
and the documented request answers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from assay import DailyPartitionsDefinition, Definitions, FreshnessPolicy, asset
from control_plane.alerts.models import Incident, IncidentKind
from control_plane.automation.freshness import check_freshness
from tests.control_plane.alerts.agent_reports import AgentReports
from tests.control_plane.factories import agent_ctx, load_location, queue_run

DOC = (Path(__file__).resolve().parents[3] / "docs" / "alerts.md").read_text()
POLICY = FreshnessPolicy(maximum_lag_minutes=60, cron_schedule="0 9 * * 1-5")


@asset(key_prefix="analytics", freshness_policy=POLICY)
def daily_metrics() -> int:
    return 1


@asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"), freshness_policy=POLICY)
def daily_rates() -> int:
    return 1


DEFS = Definitions(assets=[daily_metrics, daily_rates])


def _json_block_with(key: str) -> dict:
    blocks = [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, flags=re.S)]
    return next(b for b in blocks if key in b)


def test_every_incident_kind_says_what_opens_and_resolves_it():
    table = DOC[DOC.index("### Incident kinds") : DOC.index("**Duplicates are suppressed.**")]
    rows = {line.split("|")[1].strip(" `") for line in table.splitlines() if line.startswith("| `")}
    assert rows == set(IncidentKind.values)


@pytest.mark.django_db
def test_documented_freshness_details_and_api_field_are_what_is_produced(acme, prod):
    location = load_location(acme.ctx(), deployment=prod, name="metrics", definitions=DEFS)
    run = queue_run(acme.ctx(), location=location, selection="analytics/daily_metrics")
    AgentReports(agent_ctx(acme.ctx()), prod).execute(run, DEFS, ago=timedelta(days=8))
    # Judged on a Wednesday at noon, after the 09:00 tick: daily_metrics is a week old and
    # daily_rates' Tuesday never landed, so both are stale.
    real = timezone.now()
    wednesday = real + timedelta(days=(2 - real.weekday()) % 7 or 7)
    check_freshness(now=wednesday.replace(hour=12, minute=0, second=0, microsecond=0))

    documented = _json_block_with("overdue_minutes")
    produced = {
        i.key: i.details for i in Incident.objects.unscoped().filter(kind="freshness_violation")
    }
    assert set(produced) == {"analytics/daily_metrics", "daily_rates"}
    assert set(produced["daily_rates"]) == set(documented)  # partitioned, with a cron
    assert set(produced["analytics/daily_metrics"]) == set(documented) - {"partition"}
    assert produced["analytics/daily_metrics"]["cron_schedule"] == "0 9 * * 1-5 (UTC)"

    request = re.search(r"curl .*?\n  (https://\S+)", DOC)
    assert request is not None
    path = request.group(1).removeprefix("https://assay.example.com")
    answer = acme.client().get(path)
    assert answer.status_code == 200
    freshness = answer.json()["freshness"]
    assert set(freshness) == set(_json_block_with("freshness")["freshness"])
    assert freshness["status"] == "stale" and freshness["cron_schedule"] == "0 9 * * 1-5"
