"""Catalog search latency over 10,000 assets on PostgreSQL.

Starts its own throwaway PostgreSQL, loads one code location of 10,000 assets as an agent
does (keys in 100 groups, owners, kinds, tags, a description and column metadata each), then
searches it through the REST API (in-process test client, as an admin) with a mix of
queries: one matching a single asset, a group (100 assets), a word in every description
(all 10,000: the ranking's worst case), a column name, a kind and a tag, and a key
prefix. Prints one JSON line, ``search_10k_ms`` (median over every request; the p95 and each
query's median go to stderr), and fails if a query does not find what the seed put there.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.control_plane_env import throwaway_control_plane

ASSETS = 10_000
GROUPS = 100
ROUNDS = 20
# query -> how many assets it must match
QUERIES = {
    "orders_04242": 1,
    "g017": ASSETS // GROUPS,
    "warehouse": ASSETS,
    "customer_email": ASSETS // 10,
    "snowflake gold": 1667,  # odd and divisible by 3
    "sales ord": ASSETS // GROUPS,
}


def _snapshot() -> tuple[bytes, str]:
    from assay.snapshot import AssetSnapshot, DefinitionsSnapshot

    assets = []
    for i in range(ASSETS):
        group = i % GROUPS
        columns = [{"name": "order_id"}, {"name": f"amount_{i % 7}"}]
        if i % 10 == 0:
            columns.append({"name": "customer_email"})
        # Words are unique where a query needs them to be: "g017" is no prefix of another.
        assets.append(
            AssetSnapshot(
                key=f"{'sales' if group == 5 else f'domain{group:03d}'}/orders_{i:05d}",
                deps=[f"domain{group:03d}/orders_{i - GROUPS:05d}"] if i >= GROUPS else [],
                group=f"g{group:03d}",
                owners=[f"team_{i % 10}@acme.test"],
                tags={"tier": "gold" if i % 3 == 0 else "silver"},
                kinds=["snowflake" if i % 2 else "python"],
                description=f"Orders table number {i} in the warehouse, refreshed daily.",
                metadata={"columns": columns, "row_count": i},
                code_version=None,
                is_external=False,
                is_observable=False,
                compute_name=None,
            )
        )
    snapshot = DefinitionsSnapshot(version=_version(), assets=assets, checks=[], jobs=[])
    return snapshot.to_json().encode(), snapshot.snapshot_id


def _version() -> int:
    from assay.snapshot import SNAPSHOT_VERSION

    return SNAPSHOT_VERSION


def _seed() -> str:
    from django.db import connection

    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.tenancy import queries, services
    from control_plane.tenancy.models import User

    organization = services.create_organization(
        actor=Principal.system("bench"), slug="acme", name="Acme", admin_email="a@acme.test"
    )
    admin = User.objects.get(email="a@acme.test")
    ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
    data, snapshot_id = _snapshot()
    with tenant_context(ctx):
        _, token = services.create_user_token(ctx=ctx, name="bench", user=admin)
        record_location_snapshot(
            ctx=TenantContext(organization=organization, principal=Principal.system("agent")),
            deployment=queries.get_deployment(name="prod"),
            location_name="warehouse",
            ok=True,
            snapshot_json=data,
            snapshot_id=snapshot_id,
            snapshot_version=1,
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return token


def main() -> None:
    with throwaway_control_plane(ASSAY_ALLOWED_HOSTS="testserver"):
        from django.test import Client

        token = _seed()
        client = Client()
        url = "/api/v1/orgs/acme/deployments/prod/asset-search/"

        def search(query: str) -> dict:
            response = client.get(url, {"q": query}, HTTP_AUTHORIZATION=f"Bearer {token}")
            assert response.status_code == 200, response.content[:300]
            return response.json()

        for query, expected in QUERIES.items():  # warm up, and check what is found
            count = search(query)["count"]
            if count != expected:
                raise SystemExit(f"{query!r} matched {count} assets, expected {expected}")
        timings: dict[str, list[float]] = {query: [] for query in QUERIES}
        for _ in range(ROUNDS):
            for query in QUERIES:
                start = time.perf_counter()
                search(query)
                timings[query].append((time.perf_counter() - start) * 1000)
        every = sorted(t for values in timings.values() for t in values)
        print(json.dumps({"search_10k_ms": round(statistics.median(every), 2)}))
        details = {q: round(statistics.median(t), 2) for q, t in timings.items()}
        details["p95_ms"] = round(every[int(len(every) * 0.95) - 1], 2)
        print(json.dumps(details), file=sys.stderr)


if __name__ == "__main__":
    main()
