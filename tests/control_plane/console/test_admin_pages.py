"""The Grants, Audit log, Agents and Backfills pages: what each role is offered, what the
server refuses (a forged POST changes nothing), and that changes go through the services
(authorized, audited)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.backfills import services as backfill_services
from control_plane.backfills.models import Backfill
from control_plane.backfills.planning import BackfillRequest
from control_plane.catalog.services import record_location_snapshot
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Deployment, RoleGrant
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import agent_ctx, load_location

pytestmark = pytest.mark.django_db
GRANTS = "/o/acme/settings/grants/"
AUDIT = "/o/acme/settings/audit/"


@pytest.fixture
def world(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    location = load_location(acme.ctx(), deployment=prod, name="shop")
    return acme, prod, location


def _audited(acme, action: str) -> int:
    with tenant_context(acme.ctx()):
        return AuditEvent.objects.filter(action=action).count()


def test_an_org_admin_grants_changes_and_revokes_a_role_on_a_code_location(world):
    acme, _, location = world
    membership = acme.member("dana@acme.test")
    admin = signed_in(acme.admin)
    page = admin.get(GRANTS).content.decode()
    assert 'id="new-grant"' in page and f'value="location:{location.pk}"' in page
    assert f'value="member:{membership.pk}"' in page
    response = admin.post(
        GRANTS + "new/",
        {
            "grantee": f"member:{membership.pk}",
            "role": "launcher",
            "scope": f"location:{location.pk}",
        },
    )
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        grant = RoleGrant.objects.get(user=membership.user)
    assert grant.code_location_id == location.pk and grant.role == Role.LAUNCHER
    assert _audited(acme, "grant.create") >= 1
    page = admin.get(GRANTS).content.decode()
    assert 'data-grant="dana@acme.test|code location prod / shop"' in page
    admin.post(GRANTS + f"{grant.pk}/role/", {"role": "editor"})
    with tenant_context(acme.ctx()):
        assert RoleGrant.objects.get(pk=grant.pk).role == Role.EDITOR
    admin.post(GRANTS + f"{grant.pk}/revoke/")
    with tenant_context(acme.ctx()):
        assert not RoleGrant.objects.filter(pk=grant.pk).exists()
    assert _audited(acme, "grant.update") >= 1 and _audited(acme, "grant.delete") >= 1


def test_a_bad_grant_form_is_a_message_not_a_500_and_writes_nothing(world):
    acme, _, _ = world
    membership = acme.member("erin@acme.test")
    admin = signed_in(acme.admin)
    for form in (
        {"grantee": "member:x", "role": "viewer", "scope": "organization"},
        {"grantee": f"member:{membership.pk}", "role": "overlord", "scope": "organization"},
        {"grantee": f"member:{membership.pk}", "role": "viewer", "scope": "deployment:999999"},
        {"grantee": "member:999999", "role": "viewer", "scope": "organization"},
    ):
        response = admin.post(GRANTS + "new/", form, follow=True)
        assert response.status_code == 200
        assert 'class="flash error' in response.content.decode()
    with tenant_context(acme.ctx()):
        assert not RoleGrant.objects.filter(user=membership.user).exists()


def test_a_viewer_sees_grants_but_no_form_and_a_forged_grant_is_refused(world):
    acme, _, _ = world
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    page = client.get(GRANTS).content.decode()
    assert 'id="grants"' in page and 'id="new-grant"' not in page and ">Revoke<" not in page
    with tenant_context(acme.ctx()):
        admin_grant = RoleGrant.objects.get(user=acme.admin)
        viewer_membership = viewer.memberships.get()
    forged = client.post(
        GRANTS + "new/",
        {
            "grantee": f"member:{viewer_membership.pk}",
            "role": "admin",
            "scope": "organization",
        },
    )
    assert forged.status_code == 403
    assert client.post(GRANTS + f"{admin_grant.pk}/revoke/").status_code == 403
    with tenant_context(acme.ctx()):
        assert RoleGrant.objects.filter(pk=admin_grant.pk).exists()
        assert RoleGrant.objects.get(user=viewer).role == Role.VIEWER


def test_the_audit_log_filters_pages_and_exports_what_it_shows(world):
    acme, _, _ = world
    admin = signed_in(acme.admin)
    for name in ("alpha", "beta", "gamma"):
        admin.post("/o/acme/settings/teams/", {"name": name})
    page = admin.get(AUDIT, {"action": "team.create", "target": "beta"}).content.decode()
    assert page.count('data-action="team.create"') == 1 and "beta" in page
    page = admin.get(AUDIT, {"action": "team.", "actor": acme.admin.email}).content.decode()
    assert page.count('data-action="team.create"') == 3
    assert (
        admin.get(AUDIT, {"since": "2999-01-01T00:00"}).content.decode().count("data-action=") == 0
    )
    bad = admin.get(AUDIT, {"since": "yesterday"})
    assert bad.status_code == 400 and "not a date and time" in bad.content.decode()
    exported = admin.get(AUDIT + "export/", {"action": "team.create", "format": "csv"})
    assert exported["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(exported.streaming_content).decode())))
    assert sorted(r["target_label"] for r in rows) == ["alpha", "beta", "gamma"]
    exported = admin.get(AUDIT + "export/", {"action": "team.create", "format": "jsonl"})
    lines = b"".join(exported.streaming_content).decode().splitlines()
    assert {json.loads(line)["action"] for line in lines} == {"team.create"}
    assert admin.get(AUDIT + "export/", {"format": "xml"}).status_code == 400


def test_the_audit_log_pages_back_by_sequence(world, monkeypatch):
    acme, _, _ = world
    monkeypatch.setattr("control_plane.console.audit_pages.PER_PAGE", 2)
    admin = signed_in(acme.admin)
    for name in ("t1", "t2", "t3"):
        admin.post("/o/acme/settings/teams/", {"name": name})
    first = admin.get(AUDIT, {"action": "team.create"}).content.decode()
    assert first.count("data-action=") == 2 and "t3" in first and 'id="audit-older"' in first
    with tenant_context(acme.ctx()):
        oldest_shown = AuditEvent.objects.get(target_label="t2").seq
    second = admin.get(AUDIT, {"action": "team.create", "before": oldest_shown}).content.decode()
    assert second.count("data-action=") == 1 and "t1" in second


def test_the_audit_log_is_for_those_who_may_read_it(world):
    acme, _, _ = world
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    assert client.get(AUDIT).status_code == 403
    assert client.get(AUDIT + "export/", {"format": "csv"}).status_code == 403
    assert "Audit log" not in client.get(GRANTS).content.decode()


def test_the_agents_page_shows_a_load_error(world):
    acme, prod, _ = world
    with tenant_context(acme.ctx()):
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=prod,
            location_name="broken",
            ok=False,
            error="ModuleNotFoundError: No module named 'pandsa'",
        )
    viewer, _ = acme.member_with_role(Role.VIEWER)
    page = signed_in(viewer).get("/o/acme/d/prod/agents/").content.decode()
    assert 'data-load-error="broken"' in page and "No module named &#x27;pandsa&#x27;" in page
    assert 'data-location="shop"' in page and "4 assets" in page
    assert "1 failed to load" in page


def _backfill(acme, prod) -> Backfill:
    with tenant_context(acme.ctx()):
        return backfill_services.launch_backfill(
            ctx=acme.ctx(),
            deployment=prod,
            request=BackfillRequest(
                selection="daily_orders",
                location_name="shop",
                partition_range=("2024-01-01", "2024-01-04"),
            ),
        )


def test_a_launcher_cancels_and_resumes_a_backfill_and_sees_its_progress(world):
    acme, prod, _ = world
    backfill = _backfill(acme, prod)
    launcher, _ = acme.member_with_role(Role.LAUNCHER)
    client = signed_in(launcher)
    page = client.get("/o/acme/d/prod/backfills/").content.decode()
    assert f'data-backfill="{backfill.pk}"' in page and "0 done · 0 failed / 4" in page
    detail = f"/o/acme/d/prod/backfills/{backfill.pk}/"
    page = client.get(detail).content.decode()
    assert 'id="backfill-cancel"' in page and 'id="backfill-resume"' not in page
    assert 'data-partition="daily_orders/2024-01-03"' in page
    assert client.post(detail + "cancel/").status_code == 302
    with tenant_context(acme.ctx()):
        assert Backfill.objects.get(pk=backfill.pk).status == "canceled"
    page = client.get(detail).content.decode()
    assert 'id="backfill-resume"' in page and "4 canceled" in page
    client.post(detail + "resume/")
    with tenant_context(acme.ctx()):
        assert Backfill.objects.get(pk=backfill.pk).status == "requested"
    assert _audited(acme, "backfill.cancel") == 1 and _audited(acme, "backfill.resume") == 1


def test_a_viewer_is_offered_no_cancel_and_a_forged_cancel_is_refused(world):
    acme, prod, _ = world
    backfill = _backfill(acme, prod)
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    detail = f"/o/acme/d/prod/backfills/{backfill.pk}/"
    page = client.get(detail).content.decode()
    assert 'id="progress"' in page and 'id="backfill-cancel"' not in page
    assert client.post(detail + "cancel/").status_code == 403
    with tenant_context(acme.ctx()):
        assert Backfill.objects.get(pk=backfill.pk).status == "requested"
    assert client.get("/o/acme/d/prod/backfills/not-a-uuid/").status_code == 404
