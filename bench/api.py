"""REST API list latency with 10,000 code locations and 10,000 members over 100 organizations.

Starts its own throwaway PostgreSQL, seeds it, then calls every list endpoint through the
in-process test client as each organization's admin. Prints one JSON line:
``list_median_ms`` (median over all list requests) and ``queries_per_request`` (the
largest number of SQL queries any list request made; it must not grow with the data).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ORGANIZATIONS = 100
LOCATIONS_PER_ORG = 100
MEMBERS_PER_ORG = 100
ROUNDS = 3
ENDPOINTS = [
    "deployments/",
    "deployments/prod/code-locations/",
    "members/",
    "teams/",
    "grants/",
    "tokens/",
    "audit/",
]


def _seed() -> dict[str, str]:
    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.tenancy import services
    from control_plane.tenancy.models import CodeLocation, Deployment, Membership, User

    tokens = {}
    for n in range(ORGANIZATIONS):
        slug = f"org{n:03d}"
        organization = services.create_organization(
            actor=Principal.system("bench"), slug=slug, name=slug, admin_email=f"admin@{slug}.test"
        )
        admin = User.objects.get(email=f"admin@{slug}.test")
        ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
        with tenant_context(ctx):
            prod = Deployment.objects.get(name="prod")
            # Bulk rows for volume; the service path is exercised by the tests.
            CodeLocation.objects.bulk_create(
                CodeLocation(organization=organization, deployment=prod, name=f"loc-{i:03d}")
                for i in range(LOCATIONS_PER_ORG)
            )
            users = User.objects.bulk_create(
                User(email=f"user{i}@{slug}.test", password="!") for i in range(MEMBERS_PER_ORG - 1)
            )
            Membership.objects.bulk_create(
                Membership(organization=organization, user=user) for user in users
            )
            _, tokens[slug] = services.create_user_token(ctx=ctx, name="bench")
    return tokens


def main() -> None:
    from control_plane.testing import postgres

    server = postgres.start()
    home = tempfile.mkdtemp(prefix="assay-bench-")
    os.environ.update(
        {
            "DATABASE_URL": server.url,
            "ASSAY_SECRET_KEY": "bench-" + "x" * 50,
            "ASSAY_HOME": home,
            "ASSAY_ALLOWED_HOSTS": "testserver",
            "ASSAY_LOG_LEVEL": "WARNING",
            "DJANGO_SETTINGS_MODULE": "control_plane.settings",
        }
    )
    try:
        import django

        django.setup()
        from django.core.management import call_command
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        call_command("migrate", verbosity=0)
        tokens = _seed()
        client = Client()

        def get(slug: str, endpoint: str):
            response = client.get(
                f"/api/v1/orgs/{slug}/{endpoint}", HTTP_AUTHORIZATION=f"Bearer {tokens[slug]}"
            )
            assert response.status_code == 200, (endpoint, response.content[:200])
            return response

        for slug in list(tokens)[:5]:  # warm up code paths and connections
            for endpoint in ENDPOINTS:
                get(slug, endpoint)

        timings = []
        for _ in range(ROUNDS):
            for slug in tokens:
                for endpoint in ENDPOINTS:
                    start = time.perf_counter()
                    get(slug, endpoint)
                    timings.append((time.perf_counter() - start) * 1000)

        queries = {}
        slugs = sorted(tokens)
        for slug in (slugs[0], slugs[-1]):
            for endpoint in ENDPOINTS:
                with CaptureQueriesContext(connection) as captured:
                    get(slug, endpoint)
                queries.setdefault(endpoint, set()).add(len(captured))
        if any(len(counts) != 1 for counts in queries.values()):
            raise SystemExit(f"query count varies between organizations: {queries}")
        result = {
            "list_median_ms": round(statistics.median(timings), 2),
            "queries_per_request": max(max(c) for c in queries.values()),
        }
        print(json.dumps(result))
        print(
            json.dumps({e: sorted(c) for e, c in queries.items()}),
            file=sys.stderr,
        )
    finally:
        from django.db import connections

        connections.close_all()
        server.stop()


if __name__ == "__main__":
    main()
