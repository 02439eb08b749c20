"""The alert-policy and incident endpoints: validation, masking, roles and tenancy."""

from __future__ import annotations

import pytest

from control_plane.alerts import services
from control_plane.alerts.models import AlertPolicy
from control_plane.audit.models import AuditEvent
from control_plane.tenancy.roles import Role

pytestmark = pytest.mark.django_db

POLICIES = "/api/v1/orgs/acme/deployments/prod/alert-policies/"
HOOK = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
BODY = {
    "name": "pipeline on-call",
    "kinds": ["run_failure", "check_failure"],
    "min_check_severity": "ERROR",
    "selection": "group:sales",
    "tags": {"team": "finance"},
    "emails": ["oncall@acme.test"],
    "webhooks": [{"url": HOOK, "format": "slack"}],
}


def test_editor_creates_reads_updates_and_deletes_a_policy(acme, prod):
    _, token = acme.member_with_role(Role.EDITOR)
    client = acme.client(token)
    created = client.post(POLICIES, BODY, format="json")
    assert created.status_code == 201, created.content
    policy = created.json()
    assert policy["webhooks"] == [{"url": "https://hooks.slack.com/***", "format": "slack"}]
    assert policy["selection"] == "group:sales" and policy["enabled"] is True
    url = f"{POLICIES}{policy['id']}/"
    assert client.get(url).json() == policy
    assert [p["id"] for p in client.get(POLICIES).json()["results"]] == [policy["id"]]

    patched = client.patch(url, {"enabled": False, "emails": ["new@acme.test"]}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["enabled"] is False and patched.json()["emails"] == ["new@acme.test"]
    stored = AlertPolicy.objects.unscoped().get(pk=policy["id"])
    assert stored.webhooks == [{"url": HOOK, "format": "slack"}]  # kept, unmasked
    assert client.delete(url).status_code == 204
    assert not AlertPolicy.objects.unscoped().exists()


def test_audit_rows_keep_webhook_urls_masked(acme, prod):
    response = acme.client().post(POLICIES, BODY, format="json")
    assert response.status_code == 201
    event = AuditEvent.objects.unscoped().get(action="alert_policy.create")
    assert event.after["webhooks"] == [{"url": "https://hooks.slack.com/***", "format": "slack"}]
    assert "XXXXSECRET" not in str(event.after)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"kinds": ["meteor_strike"]}, "kinds"),
        ({"kinds": []}, "kinds"),
        ({"emails": ["not-an-address"]}, "emails"),
        ({"webhooks": [{"url": "ftp://example.com/x"}]}, "webhooks"),
        ({"webhooks": [{"url": HOOK, "format": "xml"}]}, "webhooks"),
        ({"selection": "color:red"}, "selection"),
        ({"selection": "+1 clean_orders"}, "selection"),  # refused by the SDK too
        ({"selection": "2+ clean_orders"}, "selection"),
        ({"selection": "raw_orders or"}, "selection"),
        ({"min_check_severity": "FATAL"}, "min_check_severity"),
        ({"colour": "red"}, "colour"),
        ({"emails": [], "webhooks": []}, "emails"),
    ],
)
def test_bad_input_answers_400_naming_the_field_and_writes_nothing(acme, prod, change, field):
    audit_count = AuditEvent.objects.unscoped().count()
    response = acme.client().post(POLICIES, {**BODY, **change}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not AlertPolicy.objects.unscoped().exists()
    assert AuditEvent.objects.unscoped().count() == audit_count


def test_duplicate_policy_name_answers_409(acme, prod):
    assert acme.client().post(POLICIES, BODY, format="json").status_code == 201
    assert acme.client().post(POLICIES, BODY, format="json").status_code == 409


def test_launcher_one_step_too_low_cannot_manage_policies(acme, prod, make_policy):
    existing = make_policy(emails=["a@acme.test"])
    _, token = acme.member_with_role(Role.LAUNCHER)
    client = acme.client(token)
    assert client.post(POLICIES, BODY, format="json").status_code == 403
    url = f"{POLICIES}{existing.pk}/"
    assert client.patch(url, {"enabled": False}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert client.get(url).status_code == 200  # reading is a Viewer's right
    assert AlertPolicy.objects.unscoped().get().enabled is True


def test_editor_on_another_deployment_cannot_create_here(acme, prod):
    from control_plane.core.context import tenant_context
    from control_plane.tenancy import services as tenancy_services

    with tenant_context(acme.ctx()):
        branch = tenancy_services.create_deployment(ctx=acme.ctx(), name="branch")
    _, token = acme.member_with_role(Role.EDITOR, scope=branch)
    assert acme.client(token).post(POLICIES, BODY, format="json").status_code == 403
    branch_url = "/api/v1/orgs/acme/deployments/branch/alert-policies/"
    assert acme.client(token).post(branch_url, BODY, format="json").status_code == 201


def test_other_organization_gets_404_for_policies_and_incidents(acme, globex, prod, make_policy):
    policy = make_policy(emails=["a@acme.test"])
    attacker = globex.client()
    for url in (
        POLICIES,
        f"{POLICIES}{policy.pk}/",
        "/api/v1/orgs/acme/deployments/prod/incidents/",
    ):
        assert attacker.get(url).status_code == 404
    own = f"/api/v1/orgs/globex/deployments/prod/alert-policies/{policy.pk}/"
    assert attacker.get(own).status_code == 404
    assert attacker.delete(own).status_code == 404
    assert AlertPolicy.objects.unscoped().filter(pk=policy.pk).exists()


def test_incidents_list_shows_deliveries_with_masked_webhooks(acme, prod, make_policy):
    make_policy(emails=["oncall@acme.test"], webhooks=[{"url": HOOK}])
    services.open_incident(
        deployment=prod, kind="freshness_violation", key="freshness:raw_orders", details={"a": 1}
    )
    services.open_incident(deployment=prod, kind="agent_offline", key="agent:eu", details={})
    services.resolve_incident(deployment=prod, kind="agent_offline", key="agent:eu")
    client = acme.client()
    incidents = client.get("/api/v1/orgs/acme/deployments/prod/incidents/").json()["results"]
    assert [i["key"] for i in incidents] == ["agent:eu", "freshness:raw_orders"]
    fresh = incidents[1]
    assert fresh["details"] == {"a": 1} and fresh["resolved_at"] is None
    assert sorted((d["channel"], d["target"], d["status"]) for d in fresh["deliveries"]) == [
        ("email", "oncall@acme.test", "pending"),
        ("webhook", "https://hooks.slack.com/***", "pending"),
    ]
    open_only = client.get("/api/v1/orgs/acme/deployments/prod/incidents/?status=open").json()
    assert [i["key"] for i in open_only["results"]] == ["freshness:raw_orders"]


def test_an_unknown_incident_status_filter_answers_400_naming_it(acme, prod):
    services.open_incident(deployment=prod, kind="agent_offline", key="agent:eu", details={})
    response = acme.client().get("/api/v1/orgs/acme/deployments/prod/incidents/?status=bogus")
    assert response.status_code == 400, response.content
    assert "status" in response.json()["errors"]
