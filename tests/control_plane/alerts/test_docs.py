"""docs/alerts.md stays true: its examples run, its settings and command exist."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

from control_plane.alerts import services
from control_plane.alerts.delivery import describe, slack_payload
from control_plane.alerts.models import AlertDelivery

ROOT = Path(__file__).resolve().parents[3]
DOC = (ROOT / "docs" / "alerts.md").read_text()


def _json_blocks() -> list[dict]:
    return [json.loads(b) for b in re.findall(r"```json\n(.*?)```", DOC, flags=re.S)]


def _block_with(key: str) -> dict:
    return next(b for b in _json_blocks() if key in b)


def test_every_alert_setting_is_documented():
    settings_source = (ROOT / "control_plane" / "settings.py").read_text()
    names = set(re.findall(r'"(ASSAY_(?:SMTP|ALERT)_\w+)"', settings_source))
    assert names >= {"ASSAY_SMTP_HOST", "ASSAY_ALERT_FROM", "ASSAY_ALERT_MAX_ATTEMPTS"}
    for name in names:
        assert f"`{name}`" in DOC or name in DOC, name


def test_documented_command_lines_parse():
    lines = [m for m in re.findall(r"python -m control_plane (.+)", DOC)]
    assert lines
    for line in lines:
        argv = shlex.split(re.sub(r"\[[^\]]*\]", "", line))
        command = load_command_class(get_commands()[argv[0]], argv[0])
        command.create_parser("python -m control_plane", argv[0]).parse_args(argv[1:])


@pytest.mark.django_db
def test_documented_policy_is_accepted_by_the_api(acme, prod):
    policy = _block_with("kinds")
    response = acme.client().post(
        "/api/v1/orgs/acme/deployments/prod/alert-policies/", policy, format="json"
    )
    assert response.status_code == 201, response.content


@pytest.mark.django_db
def test_documented_payloads_are_what_is_sent(prod, make_policy, settings):
    settings.BASE_URL = "https://assay.example.com"
    make_policy(webhooks=[{"url": "https://hooks.example.com/x", "format": "slack"}])
    documented = _block_with("notice")
    services.open_incident(
        deployment=prod,
        kind="freshness_violation",
        key=documented["incident"]["key"],
        details=documented["incident"]["details"],
    )
    delivery = AlertDelivery.objects.unscoped().select_related("incident").get()
    sent = describe(delivery)
    assert set(sent) == set(documented)
    assert set(sent["incident"]) == set(documented["incident"])
    for field in ("notice", "organization", "deployment", "summary", "url"):
        assert sent[field] == documented[field]
    assert slack_payload(delivery) == _block_with("text")
