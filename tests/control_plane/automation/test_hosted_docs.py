"""The hosted schedules/sensors section of docs/backfills-schedules-sensors.md: every
request it shows answers as described."""

from __future__ import annotations

import json
import re
from pathlib import Path

from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.factories import load_location

DOC = Path(__file__).resolve().parents[3] / "docs" / "backfills-schedules-sensors.md"
SECTION = "## Schedules and sensors in the hosted control plane"
SCHEDULE_FIELDS = [
    "name",
    "location",
    "selection",
    "cron_schedule",
    "execution_timezone",
    "status",
    "default_status",
    "status_set_by",
    "catchup",
    "evaluated_by",
    "next_tick_at",
    "last_tick",
]


def documented_requests() -> list[tuple[str, str, dict | None]]:
    text = DOC.read_text()
    block = text[text.index("```http", text.index(SECTION)) :]
    block = block[: block.index("\n```\n")]
    requests = []
    for line in block.splitlines()[1:]:
        method, path, *body = line.split(maxsplit=2)
        requests.append((method.lower(), path, json.loads(body[0]) if body else None))
    return requests


def test_every_documented_request_answers_200_with_the_documented_fields(acme):
    with tenant_context(acme.ctx()):
        load_location(acme.ctx(), deployment=queries.get_deployment(name="prod"), name="shop")
    requests = documented_requests()
    assert len(requests) >= 6
    client = acme.client()
    for method, path, body in requests:
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 200, (method, path, response.content)
        if re.search(r"/schedules/\w+/$", path):
            assert set(SCHEDULE_FIELDS) <= set(response.json())
    sensor = client.get("/api/v1/orgs/acme/deployments/prod/sensors/new_order_files/").json()
    assert (sensor["status"], sensor["cursor"], sensor["status_set_by"]) == (
        "running",
        None,
        "user",
    )
