"""The runs REST API: launch (Launcher and above), validation against the snapshot, reads,
terminate."""

from __future__ import annotations

import pytest

from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run, RunStatus
from control_plane.tenancy import queries
from control_plane.tenancy.roles import Role
from tests.control_plane.dynamic_project import load_crm
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
RUNS = "/api/v1/orgs/acme/deployments/prod/runs/"


@pytest.fixture
def shop(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="shop")


def client_with(acme, role, scope=None):
    _, token = acme.member_with_role(role, scope=scope)
    return acme.client(token)


def test_launcher_queues_a_run_with_its_resolved_selection(acme, shop):
    response = client_with(acme, Role.LAUNCHER).post(
        RUNS,
        {
            "location": "shop",
            "selection": "clean_orders+",
            "tags": {"warehouse": "snowflake"},
            "priority": 5,
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "QUEUED"
    assert body["asset_keys"] == ["clean_orders", "revenue_report"]
    assert body["priority"] == 5 and body["tags"] == {"warehouse": "snowflake"}


def test_partitioned_selections_need_partitions_that_exist(acme, shop):
    client = acme.client()

    def launch(**fields):
        return client.post(RUNS, {"location": "shop", **fields}, format="json")

    ok = launch(selection="daily_orders", partition_key="2024-01-15")
    assert ok.status_code == 201 and ok.json()["partition_key"] == "2024-01-15"
    ranged = launch(
        selection="daily_orders", partition_range={"start": "2024-01-01", "end": "2024-01-31"}
    )
    assert ranged.json()["partition_range"] == {"start": "2024-01-01", "end": "2024-01-31"}
    missing = launch(selection="daily_orders")
    assert missing.status_code == 400 and "give a partition_key" in missing.json()["detail"]
    unknown = launch(selection="daily_orders", partition_key="2024-01-32")
    assert unknown.status_code == 400 and "does not exist" in unknown.json()["detail"]
    extra = launch(selection="raw_orders", partition_key="2024-01-15")
    assert extra.status_code == 400 and "none of the selected" in extra.json()["detail"]


def test_dynamic_partition_keys_are_checked_against_the_deployments_store(acme, shop):
    load_crm(acme.ctx(), shop.deployment, customer_keys=["acme", "globex"])
    client = acme.client()

    def launch(selection, **fields):
        return client.post(
            RUNS, {"location": "crm", "selection": selection, **fields}, format="json"
        )

    assert launch("invoices", partition_key="globex").status_code == 201
    unknown = launch("invoices", partition_key="acem")
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == (
        "partition 'acem' does not exist for invoices; did you mean 'acme'?"
    )
    assert launch("usage", partition_key="acme|2024-01-02").status_code == 201
    assert launch("usage", partition_key="initech|2024-01-02").status_code == 400
    with tenant_context(acme.ctx()):
        assert Run.objects.filter(code_location__name="crm").count() == 2


def test_a_partition_range_over_dynamic_partitions_needs_both_ends_to_exist(acme, shop):
    load_crm(acme.ctx(), shop.deployment, customer_keys=["acme", "globex"])

    def launch(start: str, end: str):
        return acme.client().post(
            RUNS,
            {
                "location": "crm",
                "selection": "invoices",
                "partition_range": {"start": start, "end": end},
            },
            format="json",
        )

    unknown = launch("acme", "hooli")
    assert unknown.status_code == 400, unknown.content
    assert "hooli" in unknown.json()["detail"]
    accepted = launch("acme", "globex")
    assert accepted.status_code == 201, accepted.content
    assert accepted.json()["partition_range"] == {"start": "acme", "end": "globex"}


def test_launcher_granted_on_the_code_location_only_may_launch_there(acme, shop):
    response = client_with(acme, Role.LAUNCHER, scope=shop).post(
        RUNS, {"location": "shop", "selection": "raw_orders"}, format="json"
    )
    assert response.status_code == 201, response.content


def test_viewer_one_step_too_low_gets_403_and_nothing_is_queued(acme, shop):
    viewer = client_with(acme, Role.VIEWER)
    audit = AuditEvent.objects.unscoped().count()
    response = viewer.post(RUNS, {"location": "shop"}, format="json")
    assert response.status_code == 403
    with tenant_context(acme.ctx()):
        assert not Run.objects.exists()
    assert AuditEvent.objects.unscoped().count() == audit


def test_unknown_asset_is_a_400_listing_close_matches(acme, shop):
    response = acme.client().post(
        RUNS, {"location": "shop", "selection": "clean_order"}, format="json"
    )
    assert response.status_code == 400
    assert "did you mean 'clean_orders'" in response.json()["detail"]


def test_location_without_a_snapshot_is_a_clear_400(acme, shop):
    ctx = acme.ctx()
    with tenant_context(ctx):
        from control_plane.tenancy import services

        services.create_code_location(ctx=ctx, deployment=shop.deployment, name="empty")
    response = acme.client().post(RUNS, {"location": "empty"}, format="json")
    assert response.status_code == 400
    assert "no agent has loaded it" in response.json()["detail"]


def test_unknown_fields_and_both_partition_forms_are_rejected(acme, shop):
    client = acme.client()
    assert client.post(RUNS, {"location": "shop", "colour": 1}, format="json").status_code == 400
    both = {"location": "shop", "partition_key": "a", "partition_range": {"start": "a", "end": "a"}}
    assert client.post(RUNS, both, format="json").status_code == 400
    bad_retries = {"location": "shop", "tags": {"max_retries": "many"}}
    assert client.post(RUNS, bad_retries, format="json").status_code == 400


def test_list_detail_events_and_terminate(acme, shop):
    client = acme.client()
    run_id = client.post(
        RUNS, {"location": "shop", "selection": "raw_orders"}, format="json"
    ).json()["id"]
    assert [r["id"] for r in client.get(RUNS).json()["results"]] == [run_id]
    assert client.get(RUNS + "?status=SUCCESS").json()["results"] == []
    assert client.get(f"{RUNS}{run_id}/").json()["status"] == "QUEUED"
    assert client.get(f"{RUNS}{run_id}/events/").json()["results"] == []
    assert client.get(f"{RUNS}not-a-uuid/").status_code == 404
    response = client.post(f"{RUNS}{run_id}/terminate/", {}, format="json")
    assert response.status_code == 200 and response.json()["status"] == "CANCELED"
    assert client.post(f"{RUNS}{run_id}/terminate/", {}, format="json").status_code == 409


def test_listing_runs_by_an_unknown_status_is_a_400_naming_the_statuses(acme, shop):
    client = acme.client()
    client.post(RUNS, {"location": "shop", "selection": "raw_orders"}, format="json")
    assert [r["status"] for r in client.get(RUNS + "?status=QUEUED").json()["results"]] == [
        "QUEUED"
    ]
    response = client.get(RUNS + "?status=queued")
    assert response.status_code == 400
    [message] = response.json()["errors"]["status"]
    assert "QUEUED" in message and "CANCELED" in message


def test_terminating_a_dispatched_run_asks_the_agent_to_stop(acme, shop):
    client = acme.client()
    run_id = client.post(
        RUNS, {"location": "shop", "selection": "raw_orders"}, format="json"
    ).json()["id"]
    with tenant_context(acme.ctx()):
        Run.objects.filter(pk=run_id).update(status=RunStatus.STARTED)
    viewer = client_with(acme, Role.VIEWER)
    assert viewer.post(f"{RUNS}{run_id}/terminate/", {}, format="json").status_code == 403
    response = client.post(f"{RUNS}{run_id}/terminate/", {"reason": "wrong day"}, format="json")
    assert response.json()["status"] == "CANCELING" and response.json()["reason"] == "wrong day"


def test_admin_sets_tag_concurrency_limits_on_the_deployment(acme, shop):
    url = "/api/v1/orgs/acme/deployments/prod/"
    limits = [{"key": "warehouse", "value": "snowflake", "limit": 2}]
    response = acme.client().patch(url, {"run_tag_limits": limits}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["run_tag_limits"] == limits
    bad = [{"key": "warehouse", "limit": -1}]
    assert acme.client().patch(url, {"run_tag_limits": bad}, format="json").status_code == 400
    assert acme.client().patch(url, {}, format="json").status_code == 400
    launcher = client_with(acme, Role.LAUNCHER)
    assert launcher.patch(url, {"run_tag_limits": []}, format="json").status_code == 403


def test_launching_only_external_assets_is_a_400_saying_they_are_not_computed(acme):
    from assay import AssetSpec, Definitions, asset
    from assay.snapshot import build_snapshot
    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import tenant_context
    from control_plane.runs.models import Run
    from control_plane.tenancy import queries
    from tests.control_plane.factories import agent_ctx

    @asset(deps=["vendor_feed"])
    def orders() -> int:
        return 1

    snapshot = build_snapshot(Definitions(assets=[orders, AssetSpec("vendor_feed")]))
    with tenant_context(acme.ctx()):
        record_location_snapshot(
            ctx=agent_ctx(acme.ctx()),
            deployment=queries.get_deployment(name="prod"),
            location_name="ingest",
            ok=True,
            snapshot_json=snapshot.to_json().encode(),
            snapshot_id=snapshot.snapshot_id,
            snapshot_version=1,
        )
    url = "/api/v1/orgs/acme/deployments/prod/runs/"
    answer = acme.client().post(
        url, {"location": "ingest", "selection": "vendor_feed"}, format="json"
    )
    assert answer.status_code == 400
    assert "vendor_feed is external" in answer.json()["detail"]
    mixed = acme.client().post(url, {"location": "ingest", "selection": "+orders"}, format="json")
    assert mixed.status_code == 201
    assert mixed.json()["asset_keys"] == ["orders"]
    with tenant_context(acme.ctx()):
        assert Run.objects.count() == 1
