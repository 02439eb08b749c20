"""The console's branch page: the diff, the "changed in this branch" graph, one launch button."""

from __future__ import annotations

import re
from html import unescape

import pytest

from assay import Definitions, asset
from control_plane.branches import services
from control_plane.core.context import tenant_context
from control_plane.runs.models import Run
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import clean_orders, load_location, revenue_report

pytestmark = pytest.mark.django_db
PAGE = "/o/acme/d/warehouse-pr-3/branch/"


@pytest.fixture
def branch(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    load_location(acme.ctx(), deployment=prod, name="shop")
    with tenant_context(acme.ctx()):
        services.create_or_update(
            ctx=acme.ctx(),
            request=services.BranchRequest(
                repo="acme/warehouse", pr_number=3, branch="b", commit="d" * 40, title="T"
            ),
        )
        deployment = Deployment.objects.get(name="warehouse-pr-3")

    @asset(group_name="sales", code_version="2")
    def raw_orders() -> list:
        return []

    defs = Definitions(assets=[raw_orders, clean_orders, revenue_report])
    load_location(acme.ctx(), deployment=deployment, name="shop", definitions=defs)
    return deployment


def test_the_page_lists_changes_cost_and_launches_the_changed_assets(acme, branch):
    client = signed_in(acme.admin)
    page = client.get(PAGE).content.decode()
    assert "raw_orders" in page and "code_version" in page
    assert "daily_orders" in page  # removed in the branch
    assert re.search(r"costs <strong>3 credits</strong>", page)
    graph_link = unescape(re.search(r'href="([^"]*graph/\?select=[^"]*)"', page).group(1))
    graph = client.get(graph_link).content.decode()
    assert 'data-asset="raw_orders"' in graph and 'data-asset="revenue_report"' not in graph
    catalog_link = unescape(re.search(r'href="([^"]*assets/\?changed=1)"', page).group(1))
    catalog = client.get(catalog_link).content.decode()
    assert "2 matches" in catalog and "Changed in this branch" in catalog
    assert "/assets/raw_orders/" in catalog and "/assets/revenue_report/" not in catalog
    every = client.get("/o/acme/d/warehouse-pr-3/assets/").content.decode()
    assert "/assets/revenue_report/" in every

    selection = unescape(re.search(r'name="selection" value="([^"]*)"', page).group(1))
    assert selection == "clean_orders, raw_orders"  # clean_orders lost its check
    response = client.post(
        "/o/acme/d/warehouse-pr-3/launch/", {"selection": selection, "location": "shop"}
    )
    assert response.status_code == 302
    with tenant_context(acme.ctx()):
        run = Run.objects.get(deployment=branch)
        assert run.selection == "clean_orders, raw_orders"
        assert not Run.objects.filter(deployment__name="prod").exists()


def test_a_viewer_sees_the_diff_without_a_launch_button_and_prod_has_no_branch_page(acme, branch):
    viewer, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(viewer)
    page = client.get(PAGE).content.decode()
    assert "raw_orders" in page and "Launch changed assets" not in page
    assert client.get("/o/acme/d/prod/branch/").status_code == 404


def test_a_closed_branch_is_read_only(acme, branch):
    with tenant_context(acme.ctx()):
        row = services.get_branch(pr_number=3)
        services.close(ctx=acme.ctx(), branch=row)
    page = signed_in(acme.admin).get(PAGE).content.decode()
    assert "read-only until" in page and "Launch changed assets" not in page
