"""The MCP server at /mcp/, driven by the SDK's own client over HTTP against the control
plane's WSGI app served by waitress (as ``serve`` does), on the test PostgreSQL."""

from __future__ import annotations

import json
import threading
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from control_plane.audit.models import AuditEvent
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy import queries
from control_plane.tenancy.roles import Role
from control_plane.testing.postgres import free_port
from tests.control_plane.factories import load_location
from tests.control_plane.mcp_server.loop import run_coroutine

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def server_url(django_db_setup, django_db_blocker):
    """The control plane's WSGI app (Django + /mcp/) on a free port, for the module."""
    import waitress.server

    from control_plane.wsgi import application

    port = free_port()
    served = waitress.server.create_server(application, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=served.run, daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        yield f"http://127.0.0.1:{port}"
        served.close()


@pytest.fixture
def shop(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="shop")


async def _session(url: str, token: str, calls: list[tuple[str, dict[str, Any]]]):
    """Open an MCP session with ``token``; list the tools, then make each call."""
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {token}"}, timeout=30)
    async with http, Client(streamable_http_client(url + "/mcp/", http_client=http)) as client:
        tools = await client.list_tools()
        results = [await client.call_tool(name, args) for name, args in calls]
    return [t.name for t in tools.tools], results


def run_session(url: str, token: str, *calls: tuple[str, dict[str, Any]]):
    return run_coroutine(lambda: _session(url, token, list(calls)))


def _json(result) -> Any:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


def _error(result) -> str:
    assert result.is_error, result.content
    return result.content[0].text


def test_a_viewer_lists_searches_and_describes_but_cannot_launch(server_url, acme, shop):
    _, viewer = acme.member_with_role(Role.VIEWER)
    names, (found, listed, described, missing, launch) = run_session(
        server_url,
        viewer,
        ("search_assets", {"query": "orders"}),
        ("list_assets", {"limit": 2}),
        ("describe_asset", {"asset_key": "clean_orders"}),
        ("describe_asset", {"asset_key": "nope"}),
        ("launch_materialization", {"location": "shop", "selection": "raw_orders"}),
    )
    assert {"search_assets", "describe_asset", "get_run", "launch_materialization"} <= set(names)
    assert [r["key"] for r in _json(found)["results"]] == [
        "clean_orders",
        "daily_orders",
        "raw_orders",
    ]
    page = _json(listed)
    assert page["count"] == 4 and page["next_offset"] == 2
    assert [a["key"] for a in page["results"]] == ["clean_orders", "daily_orders"]
    asset = _json(described)
    assert asset["upstream"] == ["raw_orders"] and asset["downstream"] == ["revenue_report"]
    assert asset["blast_radius"] == 1 and asset["group"] == "sales"
    assert "not found" in _error(missing)
    assert "permission" in _error(launch).lower() or "role" in _error(launch).lower()
    with tenant_context(acme.ctx()):
        assert not Run.objects.exists()


def test_a_launcher_launches_audited_then_inspects_the_run(server_url, acme, shop):
    launcher_user, launcher = acme.member_with_role(Role.LAUNCHER)
    _, (launched,) = run_session(
        server_url,
        launcher,
        ("launch_materialization", {"location": "shop", "selection": "raw_orders+"}),
    )
    run = _json(launched)["run"]
    assert run["status"] == "QUEUED" and run["asset_keys"] == [
        "clean_orders",
        "raw_orders",
        "revenue_report",
    ]
    with tenant_context(acme.ctx()):
        audit = AuditEvent.objects.get(action="run.launch")
    assert audit.target_id == run["id"] and audit.actor_label == launcher_user.email
    _, (runs, detail, bad_status) = run_session(
        server_url,
        launcher,
        ("list_runs", {}),
        ("get_run", {"run_id": run["id"]}),
        ("list_runs", {"status": "SOMETIMES"}),
    )
    assert [r["id"] for r in _json(runs)["results"]] == [run["id"]]
    assert _json(detail)["run"]["selection"] == "raw_orders+"
    assert "status must be one of" in _error(bad_status)


def test_arguments_are_validated_with_clear_errors(server_url, acme, shop):
    _, (no_query, bad_limit, unknown_deployment) = run_session(
        server_url,
        acme.admin_token,
        ("search_assets", {}),
        ("search_assets", {"query": "orders", "limit": 1000}),
        ("list_assets", {"deployment": "staging-nope"}),
    )
    assert "query" in _error(no_query)
    assert "limit" in _error(bad_limit)
    assert "not found" in _error(unknown_deployment)


def test_tokens_are_required_and_tenants_stay_apart(server_url, acme, globex, shop):
    with httpx2.Client(timeout=10) as http:
        body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
        anonymous = http.post(server_url + "/mcp/", json=body)
        forged = http.post(
            server_url + "/mcp/", json=body, headers={"Authorization": "Bearer assay_u_x_y"}
        )
    assert anonymous.status_code == 401 and "Bearer" in anonymous.json()["detail"]
    assert forged.status_code == 401 and "Invalid token" in forged.json()["detail"]
    # globex's admin sees globex's (empty) catalog, never acme's.
    _, (found, described) = run_session(
        server_url,
        globex.admin_token,
        ("search_assets", {"query": "orders"}),
        ("describe_asset", {"asset_key": "clean_orders"}),
    )
    assert _json(found) == {"count": 0, "next_offset": None, "results": []}
    assert "not found" in _error(described)


def test_a_backfill_is_estimated_first_and_launched_only_when_confirmed(server_url, acme, shop):
    from control_plane.backfills.models import Backfill

    args = {
        "selection": "daily_orders",
        "location": "shop",
        "partition_start": "2024-01-01",
        "partition_end": "2024-01-05",
    }
    _, viewer = acme.member_with_role(Role.VIEWER)
    _, (estimated, refused) = run_session(
        server_url,
        viewer,
        ("launch_backfill", args),
        ("launch_backfill", {**args, "confirm": True}),
    )
    plan = _json(estimated)
    assert plan["launched"] is False and plan["may_launch"] is False
    assert plan["estimate"]["asset_partitions"] == 5 and plan["estimate"]["code_locations"] == [
        "shop"
    ]
    assert "launch_backfill" in _error(refused)
    with tenant_context(acme.ctx()):
        assert not Backfill.objects.exists()

    _, launcher = acme.member_with_role(Role.LAUNCHER)
    _, (launched, half_range) = run_session(
        server_url,
        launcher,
        ("launch_backfill", {**args, "confirm": True}),
        ("launch_backfill", {"selection": "daily_orders", "partition_start": "2024-01-01"}),
    )
    body = _json(launched)
    assert body["launched"] is True and body["estimate"] == plan["estimate"]
    assert "partition_end" in _error(half_range)
    with tenant_context(acme.ctx()):
        backfill = Backfill.objects.get()
        assert str(backfill.pk) == body["backfill"]["id"]
        assert AuditEvent.objects.filter(action="backfill.launch").count() == 1
