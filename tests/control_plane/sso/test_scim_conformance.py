"""scim2-tester, an outside SCIM conformance suite, against the live endpoint over HTTP.

Every check it runs must pass; skipped checks are the features ServiceProviderConfig says
we do not support (bulk, sort, etag, changePassword). docs/sso.md quotes the figures."""

from __future__ import annotations

import collections

import httpx2
import pytest
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_tester import Status, check_server

from control_plane.core.context import tenant_context
from control_plane.sso import services
from tests.control_plane.sso.conftest import admin_ctx, make_org

FAILED = {Status.ERROR, Status.CRITICAL, Status.DEVIATION}


@pytest.fixture
def scim_client(live_server, settings, transactional_db):
    settings.BASE_URL = live_server.url
    org = make_org("acme")
    ctx = admin_ctx(org)
    with tenant_context(ctx):
        _, secret = services.create_scim_token(ctx=ctx, name="scim2-tester")
    http = httpx2.Client(
        base_url=f"{live_server.url}/scim/v2/acme",
        headers={"Authorization": f"Bearer {secret}"},
        timeout=30,
    )
    yield SyncSCIMClient(http)
    http.close()


def test_scim2_tester_finds_no_failure(scim_client):
    results = check_server(scim_client)
    counts = collections.Counter(result.status.name for result in results)
    print("scim2-tester:", dict(counts))
    for r in results:
        if r.status is Status.SKIPPED:
            print("skipped:", r.resource_type, r.title, r.reason)
    failures = [r for r in results if r.status in FAILED]
    assert not failures, "\n".join(f"{r.resource_type} {r.title}: {r.reason}" for r in failures)
    assert counts["SUCCESS"] > 20
