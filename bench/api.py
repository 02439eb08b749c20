"""REST API list latency with 10,000 code locations and 10,000 members over 100 organizations.

Starts its own throwaway PostgreSQL, seeds it (each organization also gets teams with
members, role grants at every scope, user and agent tokens, a chained audit log, and a
loaded code location of 50 daily-partitioned assets with two years of partition history,
plus the history of 10 assets no longer defined: 43,800 status rows per organization),
then calls every list endpoint through the in-process test client as each organization's
admin. Prints one JSON line: ``list_median_ms`` (median over all list requests) and
``queries_per_request`` (the largest number of SQL queries any list request made). It
fails if an endpoint's query count differs between organizations or between a page of
one row and a page of 100 rows: a query per row (N+1) would show there.
"""

from __future__ import annotations

import itertools
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.control_plane_env import throwaway_control_plane

ORGANIZATIONS = 100
LOCATIONS_PER_ORG = 100
MEMBERS_PER_ORG = 100
TEAMS_PER_ORG = 10
TOKENS_PER_ORG = 20
AUDIT_EVENTS_PER_ORG = 200
ASSETS_PER_ORG = 50
RETIRED_ASSETS_PER_ORG = 10  # history of assets the current definitions no longer have
PARTITIONS = 730  # two years of days
MATERIALIZED_FRACTION = 0.9
FAILED_PER_ASSET = 5
ROUNDS = 3
ENDPOINTS = [
    "deployments/",
    "deployments/prod/code-locations/",
    "deployments/prod/assets/",
    "members/",
    "teams/",
    "grants/",
    "tokens/",
    "audit/",
]


def _asset_snapshot() -> tuple[bytes, str]:
    """The loaded location's definitions: ``ASSETS_PER_ORG`` daily-partitioned assets."""
    from assay import Definitions, asset
    from assay.partitions import DailyPartitionsDefinition
    from assay.snapshot import build_snapshot

    daily = DailyPartitionsDefinition(start_date="2023-01-02", end_date="2025-01-01")
    assert len(daily.get_partition_keys()) == PARTITIONS

    def body() -> None:
        return None

    assets = [
        asset(name=f"asset_{i:03d}", partitions_def=daily)(body) for i in range(ASSETS_PER_ORG)
    ]
    snapshot = build_snapshot(Definitions(assets=assets))
    return snapshot.to_json().encode(), snapshot.snapshot_id


def _seed_assets(ctx, deployment, snapshot: tuple[bytes, str]) -> None:  # type: ignore[no-untyped-def]
    """Load the location as an agent does, then write the partition history in bulk: per
    asset, the oldest days materialized (the first few failed), the latest days missing."""
    from django.db import connection

    from control_plane.catalog.models import AssetPartitionStatus
    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import Principal, TenantContext

    data, snapshot_id = snapshot
    agent = TenantContext(organization=ctx.organization, principal=Principal.system("agent"))
    record_location_snapshot(
        ctx=agent,
        deployment=deployment,
        location_name="loc-000",
        ok=True,
        snapshot_json=data,
        snapshot_id=snapshot_id,
        snapshot_version=1,
    )
    keys = [f"asset_{i:03d}" for i in range(ASSETS_PER_ORG)]
    keys += [f"retired_{i:03d}" for i in range(RETIRED_ASSETS_PER_ORG)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {AssetPartitionStatus._meta.db_table} (organization_id, "
            "deployment_id, asset_key, partition, status, run_id, event_id, timestamp) "
            "SELECT %s, %s, k, to_char(date '2023-01-02' + d, 'YYYY-MM-DD'), "
            "CASE WHEN d < %s THEN 'failed' ELSE 'materialized' END, gen_random_uuid(), "
            "md5(%s || k || d::text), now() - make_interval(days => %s - d) "
            "FROM unnest(%s::text[]) AS k, generate_series(0, %s) AS d",
            [
                deployment.organization_id,
                deployment.pk,
                FAILED_PER_ASSET,
                str(deployment.pk),
                PARTITIONS,
                keys,
                int(PARTITIONS * MATERIALIZED_FRACTION) - 1,
            ],
        )


def _seed_audit(organization, actor_label: str) -> None:
    """A valid hash chain of ``AUDIT_EVENTS_PER_ORG`` more events, written in bulk."""
    from control_plane.audit.models import AuditEvent
    from control_plane.audit.services import compute_hash

    last = AuditEvent.objects.order_by("-seq").first()
    events = []
    for seq in range(last.seq + 1, last.seq + 1 + AUDIT_EVENTS_PER_ORG):
        event = AuditEvent(
            organization=organization,
            seq=seq,
            actor_type="user",
            actor_label=actor_label,
            action="deployment.update",
            target_type="deployment",
            target_id="1",
            target_label="prod",
            before={"max_concurrent_runs": 10},
            after={"max_concurrent_runs": 11},
            ip="10.0.0.1",
            prev_hash=events[-1].hash if events else last.hash,
        )
        event.hash = compute_hash(event)
        events.append(event)
    AuditEvent.objects.bulk_create(events)


def _seed() -> dict[str, str]:
    from django.contrib.auth.models import Group

    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.tenancy import services, tokens
    from control_plane.tenancy.models import (
        ApiToken,
        CodeLocation,
        Deployment,
        Membership,
        RoleGrant,
        Team,
        User,
    )
    from control_plane.tenancy.roles import Role

    secrets = {}
    snapshot = _asset_snapshot()
    for n in range(ORGANIZATIONS):
        slug = f"org{n:03d}"
        organization = services.create_organization(
            actor=Principal.system("bench"), slug=slug, name=slug, admin_email=f"admin@{slug}.test"
        )
        admin = User.objects.get(email=f"admin@{slug}.test")
        ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
        with tenant_context(ctx):
            prod = Deployment.objects.get(name="prod")
            branch = Deployment.objects.create(organization=organization, name="branch")
            # Bulk rows for volume; the service path is exercised by the tests.
            locations = CodeLocation.objects.bulk_create(
                CodeLocation(organization=organization, deployment=prod, name=f"loc-{i:03d}")
                for i in range(LOCATIONS_PER_ORG)
            )
            users = User.objects.bulk_create(
                User(email=f"user{i}@{slug}.test", password="!") for i in range(MEMBERS_PER_ORG - 1)
            )
            Membership.objects.bulk_create(
                Membership(organization=organization, user=user) for user in users
            )
            teams = []
            for t in range(TEAMS_PER_ORG):
                group = Group.objects.create(name=f"org{organization.pk}:team-{t}")
                teams.append(
                    Team.objects.create(organization=organization, name=f"team-{t}", group=group)
                )
                group.user_set.add(*users[t::TEAMS_PER_ORG])
            grants = []
            for i, user in enumerate(users):  # one grant each, at every scope in turn
                scope = i % 3
                location = locations[i % len(locations)]
                grants.append(
                    RoleGrant(
                        organization=organization,
                        role=list(Role)[i % 4],
                        user=user,
                        deployment=prod if scope == 1 else None,
                        code_location=location if scope == 2 else None,
                        grantee_key=f"user:{user.pk}",
                        scope_key=[
                            "organization",
                            f"deployment:{prod.pk}",
                            f"code_location:{location.pk}",
                        ][scope],
                    )
                )
            grants += [
                RoleGrant(
                    organization=organization,
                    role=Role.VIEWER,
                    team=team,
                    deployment=branch,
                    grantee_key=f"team:{team.pk}",
                    scope_key=f"deployment:{branch.pk}",
                )
                for team in teams
            ]
            RoleGrant.objects.bulk_create(grants)
            for t in range(TOKENS_PER_ORG):
                kind = ApiToken.Kind.AGENT if t % 4 == 0 else ApiToken.Kind.USER
                prefix_id, secret = tokens.generate(kind)
                token = ApiToken.objects.create(
                    organization=organization,
                    kind=kind,
                    name=f"token-{t}",
                    prefix_id=prefix_id,
                    secret_hash=tokens.hash_token(secret),
                    user=None if kind == ApiToken.Kind.AGENT else admin,
                    deployment=prod if t % 4 == 1 else None,
                    max_role=Role.VIEWER if t % 4 == 2 else None,
                )
                if kind == ApiToken.Kind.AGENT:
                    token.deployments.set([prod, branch])
            _, secrets[slug] = services.create_user_token(ctx=ctx, name="bench")
            _seed_audit(organization, admin.email)
            _seed_assets(ctx, prod, snapshot)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return secrets


def main() -> None:
    with throwaway_control_plane(ASSAY_ALLOWED_HOSTS="testserver"):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

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

        timings: dict[str, list[float]] = {endpoint: [] for endpoint in ENDPOINTS}
        for _ in range(ROUNDS):
            for slug in tokens:
                for endpoint in ENDPOINTS:
                    start = time.perf_counter()
                    get(slug, endpoint)
                    timings[endpoint].append((time.perf_counter() - start) * 1000)

        queries = {}
        slugs = sorted(tokens)
        for slug in (slugs[0], slugs[-1]):
            for endpoint in ENDPOINTS:
                for limit in (1, 100):
                    with CaptureQueriesContext(connection) as captured:
                        response = get(slug, f"{endpoint}?limit={limit}")
                    rows = len(response.json()["results"])
                    if limit == 100 and rows < 2:
                        raise SystemExit(f"{endpoint} lists {rows} rows: seed more to measure")
                    queries.setdefault(endpoint, set()).add(len(captured))
        if any(len(counts) != 1 for counts in queries.values()):
            raise SystemExit(
                f"query count varies between organizations or page sizes (N+1?): {queries}"
            )
        result = {
            "list_median_ms": round(statistics.median(list(itertools.chain(*timings.values()))), 2),
            "queries_per_request": max(max(c) for c in queries.values()),
        }
        print(json.dumps(result))
        details = {
            endpoint: {"median_ms": round(statistics.median(timings[endpoint]), 2), "queries": q}
            for endpoint, (q,) in queries.items()
        }
        print(json.dumps(details), file=sys.stderr)


if __name__ == "__main__":
    main()
