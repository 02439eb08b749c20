"""The control plane's daemon at scale: declarative automation ticks and 1,000 schedules.

Starts its own throwaway PostgreSQL (fsync off). One deployment with a code location of
10,000 daily-partitioned assets (2 years: 730 partitions each; 20 layers of 500, each
asset reading two neighbours of the layer above, ``eager()`` everywhere — the graph of
``bench/automation.py``), the oldest 90% of every asset's partitions materialized: the
compact status projection holds one summary row per asset (as ingest and folding leave
it) and the per-partition status table holds its 6.57 million rows (never read by a tick).

- ``full_tick_s``: one automation tick with no cursor, end to end — status read from
  PostgreSQL, every asset evaluated, its explanation stored, the cursor saved, and the run
  it requests (the latest partition of all 10,000 assets) validated and queued. The graph
  is already built (the daemon keeps it per set of snapshots; its one-off build time is
  printed to stderr).
- ``incremental_tick_s``: after that run's 10,000 materializations are ingested and
  automation settles, 100 materializations of 100 root assets (a backfill filling the gap)
  are ingested through the agent ingest path and one tick runs, end to end.
- ``schedules_1000_s``: a second deployment whose code location defines 1,000 schedules
  without a function, all on the same cron; from the start of the schedule pass in which
  they are all due until all 1,000 runs are QUEUED.

Prints one JSON line; details go to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# The graph of bench/automation.py, so the SDK and the hosted figures compare directly.
from bench.automation import (
    MATERIALIZED_FRACTION,
    NEW_MATERIALIZATIONS,
    PARTITIONS,
    WIDTH,
    build_definitions,
)
from bench.control_plane_env import throwaway_control_plane

SCHEDULES = 1000
NOW = datetime(2025, 1, 1, 1, 0, tzinfo=UTC)
SEED_PARTITION_ROWS = not os.environ.get("BENCH_SKIP_PARTITION_ROWS")


def note(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def schedule_definitions():  # type: ignore[no-untyped-def]
    from assay import Definitions, ScheduleDefinition, asset

    @asset
    def heartbeat() -> None:
        return None

    schedules = [
        ScheduleDefinition(
            name=f"every_minute_{i:04d}",
            cron_schedule="* * * * *",
            target="heartbeat",
            default_status="RUNNING",
        )
        for i in range(SCHEDULES)
    ]
    return Definitions(assets=[heartbeat], schedules=schedules)


class Agent:
    """Ingests events and status changes the way the gRPC servicer hands them over."""

    def __init__(self, ctx, deployment) -> None:  # type: ignore[no-untyped-def]
        self.ctx, self.deployment = ctx, deployment
        self.sequence = 0

    def _next(self) -> int:
        self.sequence += 1
        return self.sequence

    def status(self, run, status) -> None:  # type: ignore[no-untyped-def]
        from control_plane.runs.ingest import IncomingStatusChange, ingest_status_change

        change = IncomingStatusChange(
            uuid.uuid4().hex, self._next(), str(run.id), status, "", time.time()
        )
        ingest_status_change(
            ctx=self.ctx, agent_id="bench", deployment_ids={self.deployment.pk}, change=change
        )

    def materializations(self, run, keys: list[str], partition: str) -> None:  # type: ignore[no-untyped-def]
        from control_plane.runs.ingest import IncomingEvent, ingest_events

        for start in range(0, len(keys), 1000):
            batch = []
            for key in keys[start : start + 1000]:
                payload = {
                    "id": uuid.uuid4().hex,
                    "type": "asset_materialization",
                    "run_id": str(run.id),
                    "timestamp": time.time(),
                    "asset_key": key,
                    "step_key": key,
                    "partition": partition,
                    "payload": {"metadata": {}},
                }
                batch.append(
                    IncomingEvent(
                        payload["id"],
                        self._next(),
                        str(run.id),
                        payload["type"],
                        payload["timestamp"],
                        payload,
                        json.dumps(payload),
                    )
                )
            ingest_events(
                ctx=self.ctx, agent_id="bench", deployment_ids={self.deployment.pk}, events=batch
            )


def _seed_status(deployment, daily, keys: list[str]) -> None:  # type: ignore[no-untyped-def]
    """90% of every asset's partitions materialized: one summary row per asset (what the
    tick reads) and, unless skipped, one per-partition status row each (what it does not)."""
    from django.db import connection, transaction

    from control_plane.catalog.models import AssetPartitionStatus, AssetStatusSummary
    from control_plane.core import bulk

    done = int(PARTITIONS * MATERIALIZED_FRACTION)
    history = daily.subset_with_index_ranges([(0, done)])
    text = json.dumps(history.to_serializable(), separators=(",", ":"))
    at = NOW - timedelta(days=1)
    with transaction.atomic():
        bulk.insert_rows(
            table=AssetStatusSummary._meta.db_table,
            columns=[
                "organization_id",
                "deployment_id",
                "asset_key",
                "materialized",
                "failed",
                "last_materialized_at",
                "updated_at",
            ],
            rows=((deployment.organization_id, deployment.pk, k, text, "", at, at) for k in keys),
        )
    if not SEED_PARTITION_ROWS:
        return
    started = time.perf_counter()
    first = daily.get_partition_key_for_index(0)
    table = AssetPartitionStatus._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (organization_id, deployment_id, asset_key, partition, status, "
            "run_id, event_id, timestamp) "
            "SELECT %s, %s, k, to_char(%s::date + d, 'YYYY-MM-DD'), 'materialized', "
            "gen_random_uuid(), md5(k || d::text), %s "
            "FROM unnest(%s::text[]) AS k, generate_series(0, %s) AS d",
            [deployment.organization_id, deployment.pk, first, at, keys, done - 1],
        )
        cursor.execute(f"ANALYZE {table}")
    note(
        f"seeded {len(keys) * done:,} per-partition status rows in "
        f"{time.perf_counter() - started:.1f} s"
    )


def measure_automation(ctx) -> dict[str, float]:  # type: ignore[no-untyped-def]
    from assay.snapshot import build_snapshot
    from control_plane.automation import declarative
    from control_plane.automation.models import AutomationEvaluation
    from control_plane.automation.ticks import daemon_context
    from control_plane.catalog.deployment_graph import deployment_graph
    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import Principal, TenantContext
    from control_plane.runs import services
    from control_plane.runs.models import Run, RunStatus
    from control_plane.tenancy.models import CodeLocation, Deployment

    defs, daily = build_definitions()
    assert daily.get_num_partitions(NOW) == PARTITIONS
    snapshot = build_snapshot(defs)
    deployment = Deployment.objects.get(name="prod")
    agent_ctx = TenantContext(organization=ctx.organization, principal=Principal.system("agent"))
    record_location_snapshot(
        ctx=agent_ctx,
        deployment=deployment,
        location_name="warehouse",
        ok=True,
        snapshot_json=snapshot.to_json().encode(),
        snapshot_id=snapshot.snapshot_id,
        snapshot_version=1,
    )
    keys = [k.to_user_string() for k in defs.asset_graph.toposorted]
    _seed_status(deployment, daily, keys)

    started = time.perf_counter()
    deployment_graph(deployment=deployment)
    note(
        f"graph of 10,000 assets rebuilt from the snapshot in {time.perf_counter() - started:.2f} s"
    )

    ticks = iter(NOW + timedelta(seconds=30 * i) for i in range(1000))

    def tick_deployment(*, deployment, now):  # type: ignore[no-untyped-def]
        with daemon_context(deployment, "automation"):  # as the daemon's loop does
            return declarative.tick_deployment(deployment=deployment, now=now)

    started = time.perf_counter()
    tick = tick_deployment(deployment=deployment, now=next(ticks))
    full_tick_s = time.perf_counter() - started
    assert tick.status == "success", (tick.status, tick.error)
    [run] = Run.objects.filter(pk__in=tick.run_ids)
    note(
        f"full tick: evaluated {tick.details['num_evaluated']}, stored "
        f"{tick.details['num_explanations']} explanations, requested "
        f"{tick.details['num_requested']} partitions in {len(tick.run_ids)} run "
        f"(selection {run.selection!r}, partition {run.partition_key})"
    )

    # The run completes: 10,000 materializations through ingest; automation settles.
    agent = Agent(ctx, deployment)
    agent.status(run, RunStatus.STARTED)
    started = time.perf_counter()
    agent.materializations(run, keys, run.partition_key)
    agent.status(run, RunStatus.SUCCESS)
    note(f"ingested 10,000 materializations in {time.perf_counter() - started:.2f} s")
    for _ in range(5):
        settle = tick_deployment(deployment=deployment, now=next(ticks))
        note(
            f"settling tick: {settle.status}, evaluated {settle.details['num_evaluated']} "
            f"in {settle.duration_ms / 1000:.2f} s"
        )
        if not settle.run_ids and settle.details["num_evaluated"] == 0:
            break

    # A backfill fills the gap: 100 partitions of 100 root assets, ingested like an agent's.
    done = int(PARTITIONS * MATERIALIZED_FRACTION)
    gap = daily.get_partition_key_for_index(done + 10)
    roots = keys[:WIDTH][:: WIDTH // NEW_MATERIALIZATIONS][:NEW_MATERIALIZATIONS]
    location = CodeLocation.objects.get(deployment=deployment, name="warehouse")
    backfill = services.launch_run(
        ctx=ctx,
        deployment=deployment,
        location=location,
        selection=", ".join(roots),
        partition_key=gap,
    )
    agent.status(backfill, RunStatus.STARTED)
    agent.materializations(backfill, roots, gap)
    agent.status(backfill, RunStatus.SUCCESS)
    started = time.perf_counter()
    tick = tick_deployment(deployment=deployment, now=next(ticks))
    incremental_tick_s = time.perf_counter() - started
    assert tick.details["num_requested"] == 0, "gap partitions are outside the latest window"
    note(
        f"incremental tick: evaluated {tick.details['num_evaluated']} assets, stored "
        f"{tick.details['num_explanations']} explanations; "
        f"{AutomationEvaluation.objects.count():,} evaluations stored so far"
    )
    return {"full_tick_s": full_tick_s, "incremental_tick_s": incremental_tick_s}


def measure_schedules(ctx) -> float:  # type: ignore[no-untyped-def]
    from assay.snapshot import build_snapshot
    from control_plane.automation.schedules import tick_schedules
    from control_plane.catalog.services import record_location_snapshot
    from control_plane.core.context import Principal, TenantContext
    from control_plane.runs.models import Run, RunStatus
    from control_plane.tenancy import services

    deployment = services.create_deployment(ctx=ctx, name="cron")
    snapshot = build_snapshot(schedule_definitions())
    agent_ctx = TenantContext(organization=ctx.organization, principal=Principal.system("agent"))
    record_location_snapshot(
        ctx=agent_ctx,
        deployment=deployment,
        location_name="jobs",
        ok=True,
        snapshot_json=snapshot.to_json().encode(),
        snapshot_id=snapshot.snapshot_id,
        snapshot_version=1,
    )
    minute = NOW.replace(second=0) + timedelta(days=1)
    tick_schedules(now=minute - timedelta(seconds=30))  # sees them: counting starts here
    started = time.perf_counter()
    tick_schedules(now=minute + timedelta(seconds=1))
    elapsed = time.perf_counter() - started
    queued = Run.objects.filter(deployment=deployment, status=RunStatus.QUEUED).count()
    assert queued == SCHEDULES, queued
    return elapsed


def main() -> None:
    with throwaway_control_plane():
        from control_plane.core.context import Principal, TenantContext, tenant_context
        from control_plane.tenancy import services
        from control_plane.tenancy.models import User

        organization = services.create_organization(
            actor=Principal.system("bench"), slug="bench", name="Bench", admin_email="a@b.test"
        )
        admin = User.objects.get(email="a@b.test")
        ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
        with tenant_context(ctx):
            result = measure_automation(ctx)
            result["schedules_1000_s"] = measure_schedules(ctx)
        print(json.dumps({k: round(v, 3) for k, v in result.items()}))


if __name__ == "__main__":
    main()
