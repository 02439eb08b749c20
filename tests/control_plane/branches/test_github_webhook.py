"""The GitHub webhook and PR comment, against a local GitHub API stand-in on 127.0.0.1."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from control_plane.branches.models import BranchDeployment, PullRequestComment, WebhookDelivery
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from control_plane.tenancy.models import Deployment
from tests.control_plane.branches.github_stand_in import (
    SECRET,
    URL,
    GitHubStandIn,
    deliver,
    payload,
)
from tests.control_plane.factories import clean_orders, load_location, revenue_report


@pytest.fixture
def github():
    stand_in = GitHubStandIn()
    yield stand_in
    stand_in.server.shutdown()


@pytest.fixture
def configured(acme, github):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(acme.ctx(), deployment=prod, name="shop")
    response = acme.client().put(
        "/api/v1/orgs/acme/github/",
        {"webhook_secret": SECRET, "api_token": "ghp_test", "api_url": github.url,
         "console_url": "https://assay.example"},
        format="json",
    )  # fmt: skip
    assert response.status_code == 200, response.json()
    return acme


def test_a_pull_request_opens_a_branch_and_one_comment_is_created_then_edited(
    configured, github, client
):
    opened = deliver(client, payload("opened", "a" * 40), "d-1")
    assert opened.status_code == 200, opened.json()
    assert opened.json()["outcome"] == "created"
    [(method, path, body)] = github.requests
    assert (method, path) == ("POST", "/repos/acme/warehouse/issues/5/comments")
    assert body["auth"] == "Bearer ghp_test"
    assert "Waiting for the agent" in body["body"]

    @asset(group_name="sales", code_version="9")
    def raw_orders() -> list:
        return []

    with tenant_context(configured.ctx()):
        branch = Deployment.objects.get(name="warehouse-pr-5")
    load_location(
        configured.ctx(),
        deployment=branch,
        name="shop",
        definitions=Definitions(assets=[raw_orders, clean_orders, revenue_report]),
    )
    pushed = deliver(client, payload("synchronize", "b" * 40), "d-2")
    assert pushed.json()["outcome"] == "updated"
    method, path, body = github.requests[-1]
    assert (method, path) == ("PATCH", "/repos/acme/warehouse/issues/comments/4242")
    assert "`raw_orders`" in body["body"] and "code_version" in body["body"]
    assert "https://assay.example/o/acme/d/warehouse-pr-5/" in body["body"]
    assert "credits" in body["body"]
    assert len([r for r in github.requests if r[0] == "POST"]) == 1

    closed = deliver(client, payload("closed", "b" * 40), "d-3")
    assert closed.json()["outcome"] == "closed"
    with tenant_context(configured.ctx()):
        assert BranchDeployment.objects.get().status == "closed"
        assert PullRequestComment.objects.get().comment_id == 4242
        assert WebhookDelivery.objects.count() == 3


def test_forged_and_replayed_deliveries_are_refused_and_change_nothing(configured, github, client):
    body = payload("opened", "a" * 40)
    forged = deliver(client, body, "d-1", secret="not-the-secret-at-all")
    assert forged.status_code == 403
    unsigned = client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_X_GITHUB_EVENT="pull_request",
        HTTP_X_GITHUB_DELIVERY="d-1",
    )
    assert unsigned.status_code == 403
    other_org = client.post("/github/webhooks/nope/", body, content_type="application/json")
    assert other_org.status_code == 403
    with tenant_context(configured.ctx()):
        assert not WebhookDelivery.objects.exists() and not BranchDeployment.objects.exists()

    assert deliver(client, body, "d-1").status_code == 200
    replay = deliver(client, payload("opened", "c" * 40), "d-1")
    assert replay.status_code == 409
    with tenant_context(configured.ctx()):
        assert BranchDeployment.objects.get().commit == "a" * 40
        assert WebhookDelivery.objects.count() == 1
    assert len(github.requests) == 1


def test_a_bad_payload_is_a_400_and_other_events_are_ignored(configured, client):
    bad = deliver(client, b'{"action": "opened"}', "d-9")
    assert bad.status_code == 400
    ping = deliver(client, b'{"zen": "hi"}', "d-10", event="ping")
    assert ping.status_code == 200 and ping.json()["outcome"] == "pong"
    with tenant_context(configured.ctx()):
        # The refused delivery was not recorded, so GitHub may redeliver it once fixed.
        assert list(WebhookDelivery.objects.values_list("delivery_id", flat=True)) == ["d-10"]
