"""The Automation and Settings pages: what each role is offered, what the server refuses,
and that the changes made there are the services' (authorized, audited)."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.automation.models import InstigatorState
from control_plane.core.context import tenant_context
from control_plane.identity.models import Invitation
from control_plane.tenancy.models import ApiToken, Deployment, Team
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    location = load_location(acme.ctx(), deployment=prod, name="shop")
    return acme, prod, location


AUTOMATION = "/o/acme/d/prod/automation/"


def _audited(acme, action: str) -> int:
    with tenant_context(acme.ctx()):
        return AuditEvent.objects.filter(action=action).count()


def test_automation_page_lists_schedules_and_sensors_and_an_editor_starts_one(world):
    acme, _, _ = world
    editor, _ = acme.member_with_role(Role.EDITOR)
    client = signed_in(editor)
    page = client.get(AUTOMATION).content.decode()
    assert 'data-schedule="nightly_orders"' in page and 'data-sensor="new_order_files"' in page
    assert "0 2 * * *" in page and "Start" in page and "automation-toggle" in page
    response = client.post(
        AUTOMATION + "schedule/on-off/",
        {"name": "nightly_orders", "location": "shop", "status": "running"},
    )
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        state = InstigatorState.objects.get(name="nightly_orders")
    assert state.status == "running"
    assert _audited(acme, "schedule.update") == 1
    page = client.get(AUTOMATION).content.decode()
    assert "Stop" in page
    client.post(AUTOMATION + "on-off/", {"enabled": "false"})
    assert ">off<" in client.get(AUTOMATION).content.decode()


def test_a_viewer_is_offered_no_switch_and_a_forged_post_is_refused(world):
    acme, _, _ = world
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    page = client.get(AUTOMATION).content.decode()
    assert 'data-schedule="nightly_orders"' in page
    assert "automation-toggle" not in page and ">Start<" not in page
    forged = client.post(
        AUTOMATION + "schedule/on-off/",
        {"name": "nightly_orders", "location": "shop", "status": "running"},
    )
    assert forged.status_code == 403
    assert client.post(AUTOMATION + "on-off/", {"enabled": "false"}).status_code == 403
    with tenant_context(acme.ctx()):
        assert not InstigatorState.objects.filter(status="running").exists()


def test_org_admin_invites_and_creates_a_team_a_viewer_may_not(world):
    acme, _, _ = world
    admin = signed_in(acme.admin)
    assert 'id="invite"' in admin.get("/o/acme/settings/members/").content.decode()
    admin.post("/o/acme/settings/members/invite/", {"email": "new@acme.test"})
    page = admin.get("/o/acme/settings/members/").content.decode()
    assert 'data-invitation="new@acme.test"' in page
    admin.post("/o/acme/settings/teams/", {"name": "platform"})
    assert 'data-team="platform"' in admin.get("/o/acme/settings/teams/").content.decode()
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    assert 'id="invite"' not in client.get("/o/acme/settings/members/").content.decode()
    assert 'id="new-team"' not in client.get("/o/acme/settings/teams/").content.decode()
    refused = client.post("/o/acme/settings/members/invite/", {"email": "x@acme.test"})
    assert refused.status_code == 403
    assert client.post("/o/acme/settings/teams/", {"name": "rogue"}).status_code == 403
    with tenant_context(acme.ctx()):
        assert list(Invitation.objects.values_list("email", flat=True)) == ["new@acme.test"]
        assert list(Team.objects.values_list("name", flat=True)) == ["platform"]


def test_a_token_is_shown_once_and_revoked_by_its_owner_only(world):
    acme, _, _ = world
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    answer = client.post("/o/acme/settings/tokens/", {"name": "laptop"}).content.decode()
    assert 'id="secret"' in answer
    with tenant_context(acme.ctx()):
        token = ApiToken.objects.get(name="laptop")
    assert token.prefix_id in answer
    again = client.get("/o/acme/settings/tokens/").content.decode()
    assert 'data-token="laptop"' in again and 'id="secret"' not in again
    other, _ = acme.member_with_role(Role.VIEWER)
    stranger = signed_in(other)
    assert stranger.post(f"/o/acme/settings/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/o/acme/settings/tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.is_revoked


def test_alerts_page_lists_policies_an_editor_disables_one_a_viewer_may_not(world):
    from control_plane.alerts import services as alert_services
    from control_plane.alerts.models import AlertPolicy

    acme, prod, _ = world
    with tenant_context(acme.ctx()):
        policy = alert_services.create_alert_policy(
            ctx=acme.ctx(),
            deployment=prod,
            name="on-call",
            kinds=["run_failure"],
            emails=["oncall@acme.test"],
        )
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    page = client.get("/o/acme/d/prod/alerts/").content.decode()
    assert 'data-policy="on-call"' in page and ">Disable<" not in page
    toggle = f"/o/acme/d/prod/alerts/{policy.pk}/on-off/"
    assert client.post(toggle, {"enabled": "false"}).status_code == 403
    editor, _ = acme.member_with_role(Role.EDITOR)
    client = signed_in(editor)
    assert ">Disable<" in client.get("/o/acme/d/prod/alerts/").content.decode()
    assert client.post(toggle, {"enabled": "false"}).status_code == 302
    with tenant_context(acme.ctx()):
        assert AlertPolicy.objects.get(pk=policy.pk).enabled is False
    assert _audited(acme, "alert_policy.update") == 1
