"""Requesting backfills: bad input is a 400 naming the field and stores nothing; only
Launchers (and up) may launch, cancel, resume or retry, and only in their organization."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from control_plane.audit.models import AuditEvent
from control_plane.backfills.models import Backfill
from control_plane.tenancy.roles import Role
from tests.control_plane.api.database import database_fingerprint
from tests.control_plane.backfills.conftest import URL, load_definitions
from tests.control_plane.backfills.project import daily
from tests.control_plane.backfills.test_backfills import partitions

pytestmark = pytest.mark.django_db
DAYS = {"start": "2024-01-01", "end": "2024-01-03"}

BAD_REQUESTS = [
    ({"location": "nowhere"}, "location", "No code location 'nowhere'"),
    ({"location": "warehouse"}, "location", "has no loaded definitions"),
    ({"selection": "rwa"}, "selection", "did you mean 'raw'"),
    ({"selection": "report"}, "partition_range", "none of the selected assets is partitioned"),
    ({"partition_range": {"start": "2024-01-01", "end": "2024-13-01"}}, "partition_range", ""),
    ({"partition_range": {"start": "2023-12-31", "end": "2024-01-02"}}, "partition_range", ""),
    (
        {"partition_range": None, "partition_keys": ["2024-01-02", "2024-02-30"]},
        "partition_keys",
        "",
    ),
    ({"partition_range": None}, "partition_range", "Give exactly one of"),
    ({"partition_keys": ["2024-01-02"]}, "partition_keys", "Give exactly one of"),
    ({"all_missing": True}, "all_missing", "Give exactly one of"),
    ({"max_concurrent_runs": 0}, "max_concurrent_runs", ""),
    ({"max_concurrent_runs": 101}, "max_concurrent_runs", ""),
    ({"tags": {"assay/backfill": "mine"}}, "tags", "set by the backfill itself"),
    ({"tags": {"max_retries": "lots"}}, "tags", "max_retries must be an integer"),
    ({"selection": "raw", "colour": "blue"}, "colour", "Unknown field"),
]


@pytest.fixture
def locations(acme, prod, shop):
    acme.client().post(
        "/api/v1/orgs/acme/deployments/prod/code-locations/", {"name": "warehouse"}, format="json"
    )


@pytest.mark.parametrize(("changes", "field", "message"), BAD_REQUESTS)
def test_bad_input_answers_400_naming_the_field_and_stores_nothing(
    acme, locations, changes, field, message
):
    body = {"selection": "raw, cleaned", "partition_range": DAYS, **changes}
    before = database_fingerprint()
    response = acme.client().post(URL, body, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()["errors"]
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert database_fingerprint() == before


def test_all_missing_with_nothing_missing_says_so(acme, prod, shop, agent):
    created = (
        acme.client()
        .post(
            URL,
            {
                "selection": "unrelated",
                "partition_range": {"start": "2024-01-01", "end": "2024-01-30"},
            },
            format="json",
        )
        .json()
    )
    agent.drive(created["id"])
    response = acme.client().post(
        URL, {"selection": "unrelated", "all_missing": True}, format="json"
    )
    assert response.status_code == 400
    assert (
        "every partition of the selection is materialized"
        in response.json()["errors"]["all_missing"][0]
    )


@asset(partitions_def=daily)
def ledger() -> int:
    return 0


def test_a_location_narrows_the_selection_to_its_assets(acme, prod, shop):
    load_definitions(acme.ctx(), prod, "finance", Definitions(assets=[ledger]))
    for location, keys in (
        ("finance", ["ledger"]),
        ("shop", ["raw", "cleaned", "report", "unrelated"]),
    ):
        response = acme.client().post(
            URL, {"location": location, "selection": "*", "partition_range": DAYS}, format="json"
        )
        assert response.status_code == 201, response.content
        described = {p["asset_key"] for p in partitions(acme, response.json()["id"])}
        assert described == set(keys)
    response = acme.client().post(
        URL, {"location": "finance", "selection": "raw", "partition_range": DAYS}, format="json"
    )
    assert response.json()["errors"]["selection"] == [
        "The selection matches no asset to materialize in code location 'finance'."
    ]


def test_listing_partitions_of_an_asset_key_that_cannot_exist_is_a_400(acme, shop):
    backfill_id = (
        acme.client()
        .post(URL, {"selection": "raw", "partition_range": DAYS}, format="json")
        .json()["id"]
    )
    response = acme.client().get(f"{URL}{backfill_id}/partitions/", {"asset": "a//b"})
    assert response.status_code == 400, response.content
    assert "non-empty" in " ".join(response.json()["errors"]["asset"])
    one = acme.client().get(f"{URL}{backfill_id}/partitions/", {"asset": "raw", "limit": 1})
    assert [p["asset_key"] for p in one.json()["results"]] == ["raw"]


def _post_everything(client, backfill_id) -> list[int]:
    return [
        client.post(URL, {"selection": "raw", "partition_range": DAYS}, format="json").status_code,
        *(
            client.post(f"{URL}{backfill_id}/{action}/").status_code
            for action in ("cancel", "resume", "retry-failed")
        ),
    ]


def test_a_viewer_may_read_but_not_launch_cancel_resume_or_retry(acme, shop):
    backfill_id = (
        acme.client()
        .post(URL, {"selection": "raw", "partition_range": DAYS}, format="json")
        .json()["id"]
    )
    _, token = acme.member_with_role(Role.VIEWER)
    viewer = acme.client(token)
    viewer.get("/api/v1/orgs/acme/")  # settle the token's last_used_at
    before = database_fingerprint()
    assert _post_everything(viewer, backfill_id) == [403, 403, 403, 403]
    assert database_fingerprint() == before
    assert viewer.get(f"{URL}{backfill_id}/").status_code == 200
    assert viewer.get(URL).json()["results"][0]["id"] == backfill_id


def test_a_launcher_of_the_code_location_may_launch_and_cancel(acme, prod, shop):
    user, token = acme.member_with_role(Role.LAUNCHER, scope=shop)
    launcher = acme.client(token)
    response = launcher.post(URL, {"selection": "raw", "partition_range": DAYS}, format="json")
    assert response.status_code == 201, response.content
    cancel = launcher.post(f"{URL}{response.json()['id']}/cancel/")
    assert cancel.status_code == 200 and cancel.json()["status"] == "canceled"
    actions = AuditEvent.objects.unscoped().filter(action__startswith="backfill.")
    assert [(e.action, e.actor_label) for e in actions.order_by("seq")] == [
        ("backfill.launch", user.email),
        ("backfill.cancel", user.email),
    ]


def test_another_organization_sees_404_and_changes_nothing(acme, globex, shop):
    backfill_id = (
        acme.client()
        .post(URL, {"selection": "raw", "partition_range": DAYS}, format="json")
        .json()["id"]
    )
    intruder = globex.client()
    intruder.get("/api/v1/orgs/globex/")  # settle the token's last_used_at
    before = database_fingerprint()
    assert _post_everything(intruder, backfill_id) == [404, 404, 404, 404]
    assert intruder.get(f"{URL}{backfill_id}/").status_code == 404
    assert intruder.get(f"{URL}{backfill_id}/partitions/").status_code == 404
    own = f"/api/v1/orgs/globex/deployments/prod/backfills/{backfill_id}/"
    assert intruder.get(own).status_code == 404
    assert intruder.post(own + "cancel/").status_code == 404
    assert database_fingerprint() == before
    assert Backfill.objects.unscoped().get().status == "requested"
