"""Catalog search through the REST API: ranked, paged, scoped, on PostgreSQL's full-text
search and on the plain fallback the embedded SQLite uses (run here on the same rows)."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from control_plane.catalog import search
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from control_plane.tenancy.roles import Role
from tests.control_plane.factories import load_location

pytestmark = pytest.mark.django_db
SEARCH = "/api/v1/orgs/{org}/deployments/prod/asset-search/"


@asset(
    key_prefix="sales",
    group_name="finance",
    owners=["team:revenue", "ana@acme.test"],
    kinds=["snowflake"],
    tags={"tier": "gold"},
    description="Orders cleaned of test accounts, one row per order.",
    metadata={"columns": [{"name": "order_id"}, {"name": "customer_email"}], "sla": "daily"},
)
def orders_clean() -> None:
    return None


@asset(key_prefix="sales", group_name="finance", description="Daily revenue from clean orders.")
def revenue(orders_clean: None) -> None:
    return None


@asset(group_name="marketing", kinds=["python"], owners=["team:growth"])
def campaigns() -> None:
    return None


CATALOG = Definitions(assets=[orders_clean, revenue, campaigns])


@pytest.fixture(params=["full_text", "plain"])
def engine(request, monkeypatch):
    if request.param == "plain":
        monkeypatch.setattr(search, "is_full_text", lambda: False)
    return request.param


@pytest.fixture
def catalog(acme):
    with tenant_context(acme.ctx()):
        prod = queries.get_deployment(name="prod")
    return load_location(acme.ctx(), deployment=prod, name="warehouse", definitions=CATALOG)


def _keys(body) -> list[str]:
    return [r["key"] for r in body["results"]]


def test_search_matches_every_field_and_ranks_key_matches_first(acme, catalog, engine):
    def find(q: str) -> list[str]:
        response = acme.client().get(SEARCH.format(org="acme"), {"q": q})
        assert response.status_code == 200, response.json()
        return _keys(response.json())

    # "orders" is in one key and in the other's description: the key match ranks first.
    assert find("orders") == ["sales/orders_clean", "sales/revenue"]
    assert find("ORD clean") == ["sales/orders_clean", "sales/revenue"]  # prefixes, any case
    assert find("growth") == ["campaigns"]  # an owner
    assert find("snowflake") == ["sales/orders_clean"]  # a kind
    assert find("gold") == ["sales/orders_clean"]  # a tag value
    assert find("customer_email") == ["sales/orders_clean"]  # a column
    assert find("sla") == ["sales/orders_clean"]  # a metadata key
    assert find("marketing") == ["campaigns"]  # a group
    assert find("orders marketing") == []  # every word must match
    body = acme.client().get(SEARCH.format(org="acme"), {"q": "finance"}).json()
    top = body["results"][0]
    assert body["count"] == 2 and top["code_location"] == "warehouse"
    assert top["owners"] == ["team:revenue", "ana@acme.test"] and top["tags"] == {"tier": "gold"}


def test_search_pages_with_limit_and_offset(acme, catalog, engine):
    url = SEARCH.format(org="acme")
    first = acme.client().get(url, {"q": "finance", "limit": 1}).json()
    assert first["count"] == 2 and first["next_offset"] == 1 and len(first["results"]) == 1
    second = acme.client().get(url, {"q": "finance", "limit": 1, "offset": 1}).json()
    assert second["next_offset"] is None
    assert _keys(first) + _keys(second) == ["sales/orders_clean", "sales/revenue"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({}, "q"),
        ({"q": "  /_ "}, "q"),
        ({"q": "a", "limit": 0}, "limit"),
        ({"q": "a", "offset": -1}, "offset"),
    ],
)
def test_bad_search_input_is_a_400_naming_the_field(acme, catalog, params, field):
    response = acme.client().get(SEARCH.format(org="acme"), params)
    assert response.status_code == 400
    assert field in response.json()["errors"], response.json()


def test_search_sees_only_its_own_organization_and_needs_a_role(acme, globex, catalog):
    with tenant_context(globex.ctx()):
        prod = queries.get_deployment(name="prod")
    load_location(globex.ctx(), deployment=prod, name="warehouse")  # the factory's shop
    assert _keys(globex.client().get(SEARCH.format(org="globex"), {"q": "orders"}).json()) == [
        "clean_orders",
        "daily_orders",
        "raw_orders",
    ]
    assert globex.client().get(SEARCH.format(org="acme"), {"q": "orders"}).status_code == 404
    _, no_role = acme.member_with_role(None)
    assert acme.client(no_role).get(SEARCH.format(org="acme"), {"q": "x"}).status_code == 403
    _, viewer = acme.member_with_role(Role.VIEWER)
    assert acme.client(viewer).get(SEARCH.format(org="acme"), {"q": "x"}).status_code == 200


def test_a_new_snapshot_replaces_what_search_finds(acme, catalog, engine):
    load_location(
        acme.ctx(),
        deployment=catalog.deployment,
        name="warehouse",
        definitions=Definitions(assets=[campaigns]),
    )
    body = acme.client().get(SEARCH.format(org="acme"), {"q": "finance"}).json()
    assert body == {"count": 0, "next_offset": None, "results": []}


def test_the_schema_documents_search_parameters():
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/orgs/{org}/deployments/{deployment}/asset-search/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {"q", "limit", "offset"}
