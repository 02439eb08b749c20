"""Console pages at scale, on PostgreSQL: one JSON line with

``graph_10k_ms``   the asset-graph page of a deployment with 10,000 assets (100 groups)
``catalog_10k_ms`` the catalog's first page filtered by one group, same deployment
``asset_page_ms``  the page of an asset with 730 daily partitions (heatmap, history)
``run_page_ms``    the page of a run with 10,000 events
``queries_max``    the most SQL queries any of these pages made

Medians of ``ROUNDS`` requests through Django's test client (server time, no network),
after one warm-up each (the deployment graph is built once per process, as in production).
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
EVENTS = 10_000
PARTITIONS = 730
ROUNDS = 7


def _big_snapshot() -> tuple[bytes, str]:
    from assay import Definitions, asset
    from assay.snapshot import build_snapshot

    def body() -> None:
        return None

    assets = []
    per_group = ASSETS // GROUPS
    for g in range(GROUPS):
        for i in range(per_group):
            deps = [f"a{g:03d}_{i - 1:03d}"] if i else []
            assets.append(asset(name=f"a{g:03d}_{i:03d}", group_name=f"g{g:03d}", deps=deps)(body))
    snapshot = build_snapshot(Definitions(assets=assets))
    return snapshot.to_json().encode(), snapshot.snapshot_id


def _partitioned_snapshot() -> tuple[bytes, str]:
    from assay import Definitions, asset
    from assay.partitions import DailyPartitionsDefinition
    from assay.snapshot import build_snapshot

    daily = DailyPartitionsDefinition(start_date="2023-01-02", end_date="2025-01-01")
    assert len(daily.get_partition_keys()) == PARTITIONS

    @asset(partitions_def=daily, group_name="daily")
    def daily_events() -> None:
        return None

    snapshot = build_snapshot(Definitions(assets=[daily_events]))
    return snapshot.to_json().encode(), snapshot.snapshot_id


def _seed():
    from django.db import connection

    from control_plane.catalog.models import AssetPartitionStatus
    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import Principal, TenantContext, tenant_context
    from control_plane.runs import services as run_services
    from control_plane.runs.models import EventLogEntry
    from control_plane.tenancy import services
    from control_plane.tenancy.models import CodeLocation, Deployment, User

    organization = services.create_organization(
        actor=Principal.system("bench"), slug="bench", name="Bench", admin_email="a@bench.test"
    )
    admin = User.objects.get(email="a@bench.test")
    ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
    agent = TenantContext(organization=organization, principal=Principal.system("agent"))
    with tenant_context(ctx):
        prod = Deployment.objects.get(name="prod")
        for name, (data, snapshot_id) in [
            ("big", _big_snapshot()),
            ("daily", _partitioned_snapshot()),
        ]:
            record_location_snapshot(
                ctx=agent,
                deployment=prod,
                location_name=name,
                ok=True,
                snapshot_json=data,
                snapshot_id=snapshot_id,
                snapshot_version=1,
            )
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AssetPartitionStatus._meta.db_table} (organization_id, "
                "deployment_id, asset_key, partition, status, run_id, event_id, timestamp) "
                "SELECT %s, %s, 'daily_events', to_char(date '2023-01-02' + d, 'YYYY-MM-DD'), "
                "CASE WHEN d < 5 THEN 'failed' ELSE 'materialized' END, gen_random_uuid(), "
                "md5(d::text), now() - make_interval(days => 800 - d) "
                "FROM generate_series(0, 600) AS d",
                [organization.pk, prod.pk],
            )
        location = CodeLocation.objects.get(name="daily")
        run = run_services.launch_run(
            ctx=ctx,
            deployment=prod,
            location=location,
            selection="daily_events",
            partition_key="2024-12-31",
        )
        from django.utils import timezone

        now = timezone.now()
        kinds = ["step_started", "log", "log", "log", "step_succeeded"]
        EventLogEntry.objects.bulk_create(
            [
                EventLogEntry(
                    organization=organization,
                    run=run,
                    event_id=f"e{i}",
                    sequence=i,
                    event_type=kinds[i % len(kinds)],
                    asset_key=f"step_{i // len(kinds) % 50}",
                    timestamp=now,
                    payload={"message": f"event {i}"},
                )
                for i in range(EVENTS)
            ],
            batch_size=2000,
        )
    return admin, run


def main() -> None:
    with throwaway_control_plane(ASSAY_ALLOWED_HOSTS="testserver"):
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        admin, run = _seed()
        client = Client()
        client.force_login(admin)
        base = "/o/bench/d/prod/"
        pages = {
            "graph_10k_ms": base + "graph/",
            "catalog_10k_ms": base + "assets/?group=g042",
            "asset_page_ms": base + "assets/daily_events/",
            "run_page_ms": base + f"runs/{run.pk}/",
        }
        result: dict[str, float | int] = {}
        queries = 0
        for key, path in pages.items():
            assert client.get(path).status_code == 200, path  # warm-up
            timings = []
            for _ in range(ROUNDS):
                with CaptureQueriesContext(connection) as captured:
                    start = time.perf_counter()
                    response = client.get(path)
                    timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                queries = max(queries, len(captured))
            result[key] = round(statistics.median(timings), 1)
        result["queries_max"] = queries
        print(json.dumps(result))


if __name__ == "__main__":
    main()
