"""The hosted section of docs/automation.md: every request it shows answers as described,
and the evaluation it shows has the shape the API returns."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from control_plane.automation.declarative import tick_automation
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.automation.history import SHOP, History, load_definitions

DOC = Path(__file__).resolve().parents[3] / "docs" / "automation.md"
SECTION = "## In the hosted control plane"
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def _section() -> str:
    text = DOC.read_text()
    return text[text.index(SECTION) :]


def documented_requests() -> list[tuple[str, str, dict | None]]:
    block = _section()[_section().index("```http") :]
    block = block[: block.index("\n```\n")]
    requests = []
    for line in block.splitlines()[1:]:
        method, path, *body = line.split(maxsplit=2)
        requests.append((method.lower(), path, json.loads(body[0]) if body else None))
    return requests


def documented_evaluation() -> dict:
    block = _section()[_section().index("```json\n") + len("```json\n") :]
    return json.loads(block[: block.index("```")])


def test_every_documented_request_answers_200_and_the_example_has_the_real_shape(acme):
    ctx = acme.ctx()
    with tenant_context(ctx):
        prod = queries.get_deployment(name="prod")
    history = History(ctx, prod, load_definitions(ctx, prod, "shop", SHOP), T0.timestamp())
    tick_automation(now=T0)
    history.materialize("orders")
    tick_automation(now=T0 + timedelta(minutes=1))  # requests order_count
    client = acme.client()
    requesting = client.get("/api/v1/orgs/acme/deployments/prod/ticks/?loop=automation")
    tick_id = requesting.json()["results"][0]["id"]

    requests = documented_requests()
    assert len(requests) == 6
    answers = {}
    for method, path, body in requests:
        path = path.replace("{tick_id}", str(tick_id))
        response = getattr(client, method)(path, body, format="json")
        assert response.status_code == 200, (method, path, response.content)
        answers[path] = response.json()
    settings = answers["/api/v1/orgs/acme/deployments/prod/automation/"]
    assert settings["enabled"] is True and settings["last_tick"]["id"] == tick_id

    documented = documented_evaluation()
    [real] = answers[f"/api/v1/orgs/acme/deployments/prod/ticks/{tick_id}/evaluations/"]["results"]
    assert set(documented) <= set(real)
    assert (real["asset_key"], real["num_requested"]) == ("order_count", 1)
    assert re.fullmatch(r"[0-9a-f-]{36}", real["run_ids"][0])
    explained, shown = real["explanation"], documented["explanation"]
    assert {k: explained[k] for k in shown if k != "children"} == {
        k: v for k, v in shown.items() if k != "children"
    }
    assert explained["children"][0] == shown["children"][0]


def test_the_documented_interval_setting_sets_the_automation_loops_interval(tmp_path):
    assert "`ASSAY_DAEMON_AUTOMATION_INTERVAL` seconds (default `30`)" in _section()
    code = (
        "import django; django.setup(); from control_plane.daemon import all_loops; "
        "print([loop.interval for loop in all_loops() if loop.name == 'automation'])"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(DOC.parents[1]),
        "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        "ASSAY_HOME": str(tmp_path),
    }
    for value, expected in ((None, "[30.0]"), ("5", "[5.0]")):
        extra = {} if value is None else {"ASSAY_DAEMON_AUTOMATION_INTERVAL": value}
        done = subprocess.run(
            [sys.executable, "-c", code], env={**env, **extra}, capture_output=True, text=True
        )
        assert done.stdout.strip() == expected, done.stderr
