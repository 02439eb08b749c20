"""A member granted only some code locations of a deployment reads its pages narrowed to
those locations (``tenancy.queries.readable_location_ids``), as the API lists them."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.roles import Role
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location, queue_run

pytestmark = pytest.mark.django_db


@asset(group_name="finance")
def ledger() -> int:
    return 0


@pytest.fixture
def world(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    shop = load_location(acme.ctx(), deployment=prod, name="shop")
    finance = load_location(
        acme.ctx(), deployment=prod, name="finance", definitions=Definitions(assets=[ledger])
    )
    return acme, prod, shop, finance


def base(path: str = "") -> str:
    return f"/o/acme/d/prod/{path}"


def test_a_code_location_viewer_sees_the_deployment_narrowed_to_that_location(world):
    acme, _, shop, finance = world
    user, _ = acme.member_with_role(Role.VIEWER, scope=finance)
    client = signed_in(user)
    overview = client.get(base())
    assert overview.status_code == 200
    assert "finance" in overview.content.decode() and ">shop<" not in overview.content.decode()
    graph = client.get(base("graph/")).content.decode()
    assert 'data-asset="ledger"' in graph and 'data-asset="raw_orders"' not in graph
    assert base("assets/") in graph and base("runs/") in graph  # the reading pages' nav
    catalog = client.get(base("assets/")).content.decode()
    assert ">ledger<" in catalog and ">raw_orders<" not in catalog
    assert client.get(base("assets/ledger/")).status_code == 200
    assert client.get(base("assets/raw_orders/")).status_code == 404
    # Selections cannot reach around the narrowing either.
    graph = client.get(base("graph/"), {"select": "*"}).content.decode()
    assert 'data-asset="clean_orders"' not in graph
    preview = client.get(base("launch/"), {"selection": "raw_orders+"}).content.decode()
    assert "Will run 0 assets" in preview
    hidden = queue_run(acme.ctx(), location=shop)
    seen = queue_run(acme.ctx(), location=finance, selection="ledger")
    runs = client.get(base("runs/")).content.decode()
    assert str(seen.pk)[:8] in runs and str(hidden.pk)[:8] not in runs
    assert client.get(base(f"runs/{seen.pk}/")).status_code == 200
    assert client.get(base(f"runs/{hidden.pk}/")).status_code == 404
    # The switcher and the organization page lead to the deployment.
    response = client.get("/o/acme/")
    assert response.status_code == 302 and response["Location"] == base("graph/")


def test_a_member_with_no_grant_in_the_deployment_is_still_refused(world):
    acme, _, _, _ = world
    user, _ = acme.member_with_role(None)
    assert signed_in(user).get(base("graph/")).status_code == 403


def test_a_code_location_launcher_launches_there_and_not_elsewhere(world):
    acme, _, _, finance = world
    user, _ = acme.member_with_role(Role.LAUNCHER, scope=finance)
    client = signed_in(user)
    page = client.get(base("assets/ledger/")).content.decode()
    assert "Materialize" in page
    assert (
        client.post(base("launch/"), {"selection": "ledger", "location": "finance"}).status_code
        == 302
    )
    refused = client.post(base("launch/"), {"selection": "raw_orders", "location": "shop"})
    assert refused.status_code == 403
