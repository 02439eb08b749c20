"""The console's search page: ranked results linking to asset pages, paging, a clear
message for a query without words, scoped like every console page."""

from __future__ import annotations

import pytest

from control_plane.core.context import tenant_context
from control_plane.tenancy.models import Deployment
from control_plane.tenancy.roles import Role
from tests.control_plane.catalog.test_search import CATALOG
from tests.control_plane.console.test_frame import signed_in
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
PAGE = "/o/{org}/d/prod/search/"


@pytest.fixture
def catalog(acme):
    with tenant_context(acme.ctx()):
        prod = Deployment.objects.get(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="warehouse", definitions=CATALOG)


def test_search_page_lists_ranked_matches_linking_to_assets(acme, catalog):
    user, _ = acme.member_with_role(Role.VIEWER)
    client = signed_in(user)
    page = client.get(PAGE.format(org="acme"), {"q": "orders"}).content.decode()
    assert "2 matches" in page
    first = page.index('href="/o/acme/d/prod/assets/sales/orders_clean/"')
    assert first < page.index('href="/o/acme/d/prod/assets/sales/revenue/"')
    assert "tier=gold" in page and "team:revenue" in page
    nav = client.get(PAGE.format(org="acme")).content.decode()
    assert 'href="/o/acme/d/prod/search/"' in nav and "No asset matches" not in nav


def test_search_page_pages_and_explains_bad_queries(acme, catalog, monkeypatch):
    from control_plane.catalog import console_views

    monkeypatch.setattr(console_views, "PAGE", 1)
    client = signed_in(acme.admin)
    first = client.get(PAGE.format(org="acme"), {"q": "finance"}).content.decode()
    assert "1 to 1 of 2" in first and "offset=1" in first and "orders_clean" in first
    second = client.get(PAGE.format(org="acme"), {"q": "finance", "offset": 1}).content.decode()
    assert "2 to 2 of 2" in second and "sales/revenue" in second and "previous" in second
    bad = client.get(PAGE.format(org="acme"), {"q": "/_"})
    assert bad.status_code == 400 and "at least one letter or digit" in bad.content.decode()


def test_search_page_is_scoped_to_the_organization(acme, globex, catalog):
    assert signed_in(globex.admin).get(PAGE.format(org="acme"), {"q": "x"}).status_code == 404
