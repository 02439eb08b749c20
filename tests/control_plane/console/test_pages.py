"""Console pages over a loaded code location: graph, catalog, asset, launch, runs; and the
role checks: a button a role may not use is not offered, and a forged POST is refused."""

from __future__ import annotations

import pytest
from django.test import Client

from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    location = load_location(acme.ctx(), deployment=prod, name="shop")
    return acme, prod, location


def base(path: str = "") -> str:
    return f"/o/acme/d/prod/{path}"


def test_graph_shows_assets_with_status_and_groups(world):
    acme, _, _ = world
    page = signed_in(acme.admin).get(base("graph/")).content.decode()
    assert 'data-asset="raw_orders"' in page
    assert "status-missing" in page
    assert "sales" in page and "reports" in page


def test_graph_selection_uses_the_sdk_syntax_and_focus_limits_levels(world):
    acme, _, _ = world
    client = signed_in(acme.admin)
    page = client.get(base("graph/"), {"select": "group:sales"}).content.decode()
    assert 'data-asset="clean_orders"' in page
    assert 'data-asset="revenue_report"' not in page
    page = client.get(
        base("graph/"), {"focus": "clean_orders", "up": 0, "down": 1}
    ).content.decode()
    assert 'data-asset="revenue_report"' in page
    assert 'data-asset="raw_orders"' not in page
    page = client.get(base("graph/"), {"select": "no_such_asset"}).content.decode()
    assert "no asset &#x27;no_such_asset&#x27;" in page


def test_blast_radius_counts_and_highlights_downstream(world):
    acme, _, _ = world
    page = signed_in(acme.admin).get(base("graph/"), {"blast": "raw_orders"}).content.decode()
    assert "2 downstream assets" in page
    assert page.count("node status-missing blast") == 3


def test_catalog_filters_by_group_and_status(world):
    acme, _, _ = world
    client = signed_in(acme.admin)
    page = client.get(base("assets/"), {"group": "reports"}).content.decode()
    assert ">revenue_report<" in page and ">raw_orders<" not in page
    page = client.get(base("assets/"), {"status": "fresh"}).content.decode()
    assert "No asset matches." in page


def test_asset_page_shows_lineage_checks_and_partitions(world):
    acme, _, _ = world
    client = signed_in(acme.admin)
    page = client.get(base("assets/clean_orders/")).content.decode()
    assert "raw_orders" in page and "revenue_report" in page
    assert "No check evaluated yet." in page
    page = client.get(base("assets/daily_orders/")).content.decode()
    assert 'class="heatmap"' in page
    assert "Backfill this range" in page
    assert client.get(base("assets/nothing/")).status_code == 404


def test_launcher_previews_and_launches_a_run(world):
    acme, _, _ = world
    user, _ = acme.member_with_role(Role.LAUNCHER)
    client = signed_in(user)
    preview = client.get(base("launch/"), {"selection": "raw_orders+"}).content.decode()
    assert "Will run 3 assets" in preview
    response = client.post(base("launch/"), {"selection": "raw_orders", "location": "shop"})
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        run = Run.objects.get()
    assert response["Location"] == base(f"runs/{run.pk}/")
    assert run.asset_keys == ["raw_orders"]
    page = client.get(response["Location"]).content.decode()
    assert "QUEUED" in page and "Terminate" in page
    assert 'data-live="true"' in page


def test_viewer_sees_no_launch_button_and_a_forged_post_is_refused(world):
    acme, _, location = world
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    page = client.get(base("assets/raw_orders/")).content.decode()
    assert "Materialize" not in page
    assert base("launch/") not in client.get(base("graph/")).content.decode()
    assert (
        client.post(base("launch/"), {"selection": "raw_orders", "location": "shop"}).status_code
        == 403
    )
    run = queue_run(acme.ctx(), location=location)
    page = client.get(base(f"runs/{run.pk}/")).content.decode()
    assert "Terminate" not in page
    assert client.post(base(f"runs/{run.pk}/terminate/")).status_code == 403
    with tenant_context(acme.ctx()):
        assert list(Run.objects.values_list("status", flat=True)) == ["QUEUED"]


def test_runs_list_filters_by_status_and_terminate_works_for_a_launcher(world):
    acme, _, location = world
    run = queue_run(acme.ctx(), location=location)
    user, _ = acme.member_with_role(Role.LAUNCHER)
    client = signed_in(user)
    assert str(run.pk)[:8] in client.get(base("runs/"), {"status": "QUEUED"}).content.decode()
    assert "No run yet." in client.get(base("runs/"), {"status": "SUCCESS"}).content.decode()
    assert client.post(base(f"runs/{run.pk}/terminate/")).status_code == 302
    run.refresh_from_db()
    assert run.status == "CANCELED"
    response = client.post(base(f"runs/{run.pk}/re-execute/"))
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        assert Run.objects.count() == 2


def test_run_live_fragment_and_another_orgs_run_is_404(world, globex):
    acme, _, location = world
    run = queue_run(acme.ctx(), location=location)
    client = signed_in(acme.admin)
    fragment = client.get(base(f"runs/{run.pk}/live/")).content.decode()
    assert fragment.startswith('<div id="run-live"')
    outsider = signed_in(globex.admin)
    assert outsider.get(base(f"runs/{run.pk}/")).status_code == 404
    assert outsider.get(f"/o/globex/d/prod/runs/{run.pk}/").status_code == 404
    assert Client().get(base("graph/")).status_code == 302
