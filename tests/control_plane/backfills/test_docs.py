"""docs/backfills-schedules-sensors.md, "In the hosted control plane", stays true: its
request is accepted, the answers it shows are what the API answers for that backfill,
and its endpoints and setting exist."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from django.urls import resolve

from assay import DailyPartitionsDefinition, Definitions, asset
from tests.control_plane.backfills.conftest import URL, LocalAgent, load_definitions

ROOT = Path(__file__).resolve().parents[3]
PAGE = (ROOT / "docs" / "backfills-schedules-sensors.md").read_text()
SECTION = PAGE.split("### In the hosted control plane")[1].split("\n## ")[0]
REQUEST, DETAIL, SKIPPED_PAGE = (
    json.loads(block) for block in re.findall(r"```json\n(.*?)```", SECTION, flags=re.S)
)


@asset(partitions_def=DailyPartitionsDefinition(start_date="2024-01-01"))
def web_logs(context) -> int:
    if context.partition_key == "2024-01-10":
        raise ValueError("the log file for the 10th is truncated")
    return 1


@asset
def traffic_report(web_logs: dict) -> int:
    return sum(web_logs.values())


WEB = Definitions(assets=[web_logs, traffic_report])


def _without_run_ids(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "run_ids"} for row in rows]


@pytest.mark.django_db
def test_the_documented_backfill_answers_as_documented(acme, prod, tmp_path):
    load_definitions(acme.ctx(), prod, "web", WEB)
    agent = LocalAgent(acme.ctx(), prod, {"web": WEB}, str(tmp_path))
    response = acme.client().post(URL, REQUEST, format="json")
    assert response.status_code == 201, response.content
    backfill_id = response.json()["id"]
    agent.drive(backfill_id)

    shown = acme.client().get(f"{URL}{backfill_id}/").json()
    assert set(shown) == set(DETAIL)
    varying = {"id", "launched_by", "created_at", "updated_at", "finished_at", "problems"}
    for field in set(DETAIL) - varying:
        assert shown[field] == DETAIL[field], field
    assert _without_run_ids(shown["problems"]) == _without_run_ids(DETAIL["problems"])
    assert [len(p["run_ids"]) for p in shown["problems"]] == [1, 0]

    page = acme.client().get(f"{URL}{backfill_id}/partitions/", {"status": "skipped"}).json()
    assert page == SKIPPED_PAGE


def test_the_documented_endpoints_and_setting_exist():
    paths = re.findall(r"`(?:GET|POST) \.\.\./(backfills/[^`?]*)", SECTION)
    assert len(set(paths)) == 6
    prefix = "/api/v1/orgs/acme/deployments/prod/"
    for path in paths:
        url = prefix + path.replace("{id}", "2b0c7a9e-3f61-4d0c-9a51-8d1f0f4d6c21")
        assert resolve(url).url_name.startswith("backfill"), path
    settings_source = (ROOT / "control_plane" / "settings.py").read_text()
    assert '"ASSAY_DAEMON_BACKFILL_INTERVAL", "1"' in settings_source
    assert "`ASSAY_DAEMON_BACKFILL_INTERVAL` seconds (default `1`)" in SECTION
