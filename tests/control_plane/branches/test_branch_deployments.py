"""Branch deployments over the CI endpoints and the user API: open, update, close, delete."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from assay import Definitions, asset
from control_plane.audit.models import AuditEvent
from control_plane.automation.instigators import effective_status, ensure_states, instigator_specs
from control_plane.branches import services
from control_plane.branches.errors import BranchClosed
from control_plane.branches.models import BranchDeployment
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy import queries
from control_plane.tenancy.models import CodeLocation, Deployment
from tests.control_plane.factories import DEFINITIONS, load_location, queue_run

PR = {
    "repo": "acme/warehouse",
    "branch": "feature/orders",
    "pr": 7,
    "commit": "a" * 40,
    "title": "Faster orders",
    "author": "ana",
}


def _ci_client(world) -> tuple[APIClient, str]:
    with tenant_context(world.ctx()):
        _, secret = services.issue_ci_token(ctx=world.ctx(), name="github")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client, secret


@pytest.fixture
def prod_location(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
        prod.max_concurrent_runs = 3
        prod.save()
    return load_location(acme.ctx(), deployment=prod, name="shop")


def _actions(world, prefix="branch."):
    with tenant_context(world.ctx()):
        return list(
            AuditEvent.objects.filter(action__startswith=prefix)
            .order_by("seq")
            .values_list("action", flat=True)
        )


def test_create_or_update_is_idempotent_per_pull_request(acme, prod_location):
    client, _ = _ci_client(acme)
    first = client.post("/ci/v1/branches/", PR, format="json")
    assert first.status_code == 201, first.json()
    assert first.json()["deployment"] == "warehouse-pr-7"
    assert first.json()["outcome"] == "created"

    again = client.post("/ci/v1/branches/", PR, format="json")
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"
    moved = client.post("/ci/v1/branches/", PR | {"commit": "b" * 40}, format="json")
    assert moved.json()["outcome"] == "updated" and moved.json()["commit"] == "b" * 40

    with tenant_context(acme.ctx()):
        assert BranchDeployment.objects.count() == 1
        deployment = Deployment.objects.get(name="warehouse-pr-7")
        # Inherits the base's settings and its code locations (names only, no data).
        assert deployment.kind == "branch" and deployment.max_concurrent_runs == 3
        assert list(
            CodeLocation.objects.filter(deployment=deployment).values_list("name", flat=True)
        ) == ["shop"]
    assert _actions(acme) == ["branch.create", "branch.update"]


def test_bad_input_is_a_400_and_writes_nothing(acme, prod_location):
    client, _ = _ci_client(acme)
    response = client.post("/ci/v1/branches/", PR | {"commit": "not-a-sha"}, format="json")
    assert response.status_code == 400
    assert "commit" in str(response.json())
    missing_base = client.post("/ci/v1/branches/", PR | {"base": "nope"}, format="json")
    assert missing_base.status_code == 400
    with tenant_context(acme.ctx()):
        assert not BranchDeployment.objects.exists()
        assert not Deployment.objects.filter(kind="branch").exists()
    assert _actions(acme) == []


def test_the_ci_token_may_only_do_ci_and_others_may_not_use_ci(acme, globex, prod_location):
    client, secret = _ci_client(acme)
    # Not an API token: the rest of the API refuses it.
    assert client.get("/api/v1/orgs/acme/deployments/").status_code == 401
    # An API token is not a CI token, and a forged one is refused.
    user = acme.client()
    assert user.post("/ci/v1/branches/", PR, format="json").status_code == 401
    forged = APIClient()
    forged.credentials(HTTP_AUTHORIZATION=f"Bearer {secret[:-4]}AAAA")
    assert forged.post("/ci/v1/branches/", PR, format="json").status_code == 401
    # Globex's token opens branches in globex only (which has no prod location: still fine).
    globex_client, _ = _ci_client(globex)
    assert globex_client.post("/ci/v1/branches/", PR, format="json").status_code == 201
    with tenant_context(acme.ctx()):
        assert not BranchDeployment.objects.exists()


def test_a_viewer_cannot_issue_ci_tokens(acme):
    from control_plane.tenancy.roles import Role

    _, token = acme.member_with_role(Role.VIEWER)
    response = acme.client(token).post("/api/v1/orgs/acme/ci-tokens/", {"name": "x"}, format="json")
    assert response.status_code == 403
    admin = acme.client().post("/api/v1/orgs/acme/ci-tokens/", {"name": "gh"}, format="json")
    assert admin.status_code == 201 and admin.json()["token"].startswith("assay_c_")


def test_the_diff_against_prod_from_the_two_snapshots(acme, prod_location):
    client, _ = _ci_client(acme)
    client.post("/ci/v1/branches/", PR, format="json")
    detail = acme.client().get("/api/v1/orgs/acme/branch-deployments/warehouse-pr-7/").json()
    assert detail["loaded"] is False and detail["diff"] is None

    from tests.control_plane.factories import clean_orders, raw_orders, revenue_report

    @asset(name="raw_orders", group_name="sales", code_version="2")
    def raw_orders_v2() -> list:
        return [1]

    @asset
    def orders_audit(raw_orders: list) -> int:
        return len(raw_orders)

    branch_defs = Definitions(assets=[raw_orders_v2, clean_orders, revenue_report, orders_audit])
    with tenant_context(acme.ctx()):
        branch_deployment = Deployment.objects.get(name="warehouse-pr-7")
    load_location(acme.ctx(), deployment=branch_deployment, name="shop", definitions=branch_defs)
    assert raw_orders is not raw_orders_v2

    detail = acme.client().get("/api/v1/orgs/acme/branch-deployments/warehouse-pr-7/").json()
    diff = detail["diff"]
    assert [c["key"] for c in diff["new"]] == ["orders_audit"]
    assert [c["key"] for c in diff["removed"]] == ["daily_orders"]
    changed = {c["key"]: c for c in diff["changed"]}
    assert changed["raw_orders"]["kinds"] == ["code_version"]
    assert changed["raw_orders"]["blast_radius"] == ["clean_orders", "revenue_report"]
    # clean_orders lost its check in the branch.
    assert changed["clean_orders"]["kinds"] == ["checks"]
    assert diff["cost"]["credits_once"] == 4  # raw, clean, report, audit
    assert DEFINITIONS is not branch_defs


def test_close_terminates_runs_keeps_it_read_only_then_deletes_it(acme, prod_location):
    client, _ = _ci_client(acme)
    client.post("/ci/v1/branches/", PR, format="json")
    with tenant_context(acme.ctx()):
        deployment = Deployment.objects.get(name="warehouse-pr-7")
    location = load_location(acme.ctx(), deployment=deployment, name="shop")
    run = queue_run(acme.ctx(), location=location)
    prod_run = queue_run(acme.ctx(), location=prod_location)

    closed = client.post("/ci/v1/branches/close/", {"pr": 7}, format="json")
    assert closed.status_code == 200, closed.json()
    assert closed.json()["terminated_runs"] == 1
    assert closed.json()["unloaded_locations"] == ["shop"]
    with tenant_context(acme.ctx()):
        assert Run.objects.get(pk=run.pk).status == "CANCELED"
        assert Run.objects.get(pk=prod_run.pk).status == "QUEUED"  # prod untouched
        assert services.is_read_only(deployment)
    # Read-only: nothing launches in a closed branch, through the API or the service.
    refused = acme.client().post(
        "/api/v1/orgs/acme/deployments/warehouse-pr-7/runs/",
        {"location": "shop", "selection": "raw_orders"},
        format="json",
    )
    assert refused.status_code == 409, refused.json()
    assert "closed" in str(refused.json())
    with pytest.raises(BranchClosed):
        queue_run(acme.ctx(), location=location)
    queue_run(acme.ctx(), location=prod_location)  # prod still launches
    # Closing again is harmless and audits nothing more.
    again = client.post("/ci/v1/branches/close/", {"pr": 7}, format="json")
    assert again.status_code == 200 and again.json()["terminated_runs"] == 0

    assert services.delete_expired(now=timezone.now() + timedelta(days=1)) == 0
    assert services.delete_expired(now=timezone.now() + timedelta(days=8)) == 1
    with tenant_context(acme.ctx()):
        assert not Deployment.objects.filter(name="warehouse-pr-7").exists()
        assert BranchDeployment.objects.get().status == "deleted"
        assert Deployment.objects.filter(name="prod").exists()
    assert _actions(acme) == ["branch.create", "branch.close", "branch.delete"]
    # A reopened PR after deletion gets a fresh deployment.
    reopened = client.post("/ci/v1/branches/", PR, format="json")
    assert reopened.json()["outcome"] == "created"


def test_idle_branches_close_themselves(acme, prod_location):
    client, _ = _ci_client(acme)
    client.post("/ci/v1/branches/", PR, format="json")
    client.post("/ci/v1/branches/", PR | {"pr": 8}, format="json")
    with tenant_context(acme.ctx()):
        BranchDeployment.objects.filter(pr_number=7).update(
            last_activity_at=timezone.now() - timedelta(days=20)
        )
    assert services.close_idle() == 1
    with tenant_context(acme.ctx()):
        statuses = dict(BranchDeployment.objects.values_list("pr_number", "status"))
        assert statuses == {7: "closed", 8: "open"}
        assert BranchDeployment.objects.get(pr_number=7).close_reason == "idle"
    with tenant_context(acme.ctx()):
        event = AuditEvent.objects.get(action="branch.close")
        assert event.actor_type == "system"


def test_schedules_and_sensors_are_off_by_default_in_branch_deployments(acme, prod_location):
    from assay import ScheduleDefinition
    from tests.control_plane.factories import raw_orders

    running = ScheduleDefinition(
        name="minutely", cron_schedule="* * * * *", target="raw_orders", default_status="RUNNING"
    )
    defs = Definitions(assets=[raw_orders], schedules=[running])
    client, _ = _ci_client(acme)
    client.post("/ci/v1/branches/", PR, format="json")
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
        branch = Deployment.objects.get(name="warehouse-pr-7")
    load_location(acme.ctx(), deployment=prod, name="sched", definitions=defs)
    load_location(acme.ctx(), deployment=branch, name="sched", definitions=defs)
    with tenant_context(acme.ctx()):
        for deployment, expected in [(prod, "running"), (branch, "stopped")]:
            specs = [
                s
                for s in instigator_specs(deployment=deployment, kind="schedule")
                if s.name == "minutely"
            ]
            states = ensure_states(deployment=deployment, specs=specs)
            assert [effective_status(states[s.key], s) for s in specs] == [expected]


def test_deploy_targets_prod_only(acme, prod_location):
    client, _ = _ci_client(acme)
    ok = client.post("/ci/v1/deploy/", {"commit": "c" * 40}, format="json")
    assert ok.status_code == 200 and ok.json()["deployment"] == "prod"
    assert _actions(acme) == ["branch.deploy"]
