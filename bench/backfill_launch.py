"""Launching a large backfill in the hosted control plane, through the REST API.

A code location with a chain of 1,000 daily-partitioned assets is registered in a throwaway
PostgreSQL; one ``POST .../backfills/`` asks for 365 days of all of them (365,000 asset
partitions). ``launch_s`` is that request: validation against the snapshot, the plan (the
SDK's ``plan_backfill`` over a graph rebuilt from the snapshot), and storing it. Then one
pass of the backfill loop queues the first runs; ``first_pass_s`` is that pass.
``idle_pass_s`` is the next pass, while all those runs are still queued: what the loop
spends every second on a large backfill waiting for its runs.

Prints one JSON line: ``{"launch_s": ..., "first_pass_s": ..., "idle_pass_s": ...}``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.control_plane_env import throwaway_control_plane

ASSETS = 1000
DAYS = 365


def chain_definitions():  # type: ignore[no-untyped-def]
    from assay import DailyPartitionsDefinition, Definitions, asset

    daily = DailyPartitionsDefinition(start_date="2024-01-01")

    def compute() -> int:
        return 1

    return Definitions(
        assets=[
            asset(
                name=f"step_{i:04d}",
                partitions_def=daily,
                deps=[f"step_{i - 1:04d}"] if i else [],
            )(compute)
            for i in range(ASSETS)
        ]
    )


def main() -> None:
    with throwaway_control_plane(ASSAY_ALLOWED_HOSTS="testserver"):
        from django.test import Client

        from assay.snapshot import build_snapshot
        from control_plane.backfills.loop import tick_backfills
        from control_plane.catalog.services import record_location_snapshot
        from control_plane.core.context import Principal, TenantContext, tenant_context
        from control_plane.tenancy import queries, services
        from control_plane.tenancy.models import User

        organization = services.create_organization(
            actor=Principal.system("bench"), slug="bench", name="Bench", admin_email="a@b.test"
        )
        admin = User.objects.get(email="a@b.test")
        ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
        snapshot = build_snapshot(chain_definitions())
        with tenant_context(ctx):
            _, token = services.create_user_token(ctx=ctx, name="bench")
            record_location_snapshot(
                ctx=TenantContext(organization=organization, principal=Principal.system("agent")),
                deployment=queries.get_deployment(name="prod"),
                location_name="chain",
                ok=True,
                snapshot_json=snapshot.to_json().encode(),
                snapshot_id=snapshot.snapshot_id,
                snapshot_version=1,
            )
        body = {
            "location": "chain",
            "selection": "*",
            "partition_range": {"start": "2024-01-01", "end": "2024-12-30"},
            "max_concurrent_runs": 4,
        }
        started = time.perf_counter()
        response = Client().post(
            "/api/v1/orgs/bench/deployments/prod/backfills/",
            json.dumps(body),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {token}",
        )
        launch_s = time.perf_counter() - started
        assert response.status_code == 201, response.content[:500]
        assert response.json()["num_runs"] == DAYS, response.json()
        started = time.perf_counter()
        assert tick_backfills() == 1
        first_pass_s = time.perf_counter() - started
        started = time.perf_counter()
        assert tick_backfills() == 0  # its runs are all queued: nothing to do
        idle_pass_s = time.perf_counter() - started
        print(
            json.dumps(
                {
                    "launch_s": round(launch_s, 3),
                    "first_pass_s": round(first_pass_s, 3),
                    "idle_pass_s": round(idle_pass_s, 4),
                }
            )
        )


if __name__ == "__main__":
    main()
