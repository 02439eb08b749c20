"""Billing: ingestion with metering on, and the usage page over a year of usage.

- ``ingest_events_per_s_with_metering``: ``bench/agent_e2e.py``'s ingestion path (the real
  ``assay-agent`` draining ``BENCH_EVENTS`` (100,000) outbox events, one in ten a
  materialization, over gRPC into ``python -m control_plane grpc`` on PostgreSQL), with the
  billing app installed, so every batch also writes its ledger rows, and the daemon's
  ``usage_rollup`` loop runs beside it, folding them into ``DailyUsage``.
  Afterwards the ledger and the rollups must hold exactly one credit per materialization
  (else it exits 1).
- ``usage_page_ms``: median of ``BENCH_ROUNDS`` (20) GETs of ``/o/<org>/billing/`` for an
  organization with a year of rollups for 2,000 assets (730,000 ``DailyUsage`` rows, loaded
  with COPY), signed in, after one warm-up request.

Prints one JSON line with exactly those two keys; standard error gives the breakdown.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import agent_e2e
from bench.control_plane_env import throwaway_control_plane

ASSETS = 2_000
DAYS = 365
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "20"))


def _ingest(ctx, run, token: str, server, work: Path) -> float:
    grpc_server = subprocess.Popen(
        [sys.executable, "-m", "control_plane", "grpc", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
    )
    # The daemon's rollup loop folds the ledger into DailyUsage while ingestion runs, as in
    # production: its PostgreSQL time is part of the measured load.
    rollup = subprocess.Popen(
        [sys.executable, "-m", "control_plane", "run_daemon", "--loops", "usage_rollup"],
        stdout=subprocess.DEVNULL,
    )
    processes = [rollup, grpc_server]
    try:
        line = grpc_server.stdout.readline() if grpc_server.stdout else ""
        address = line.strip().rsplit("//", 1)[-1]
        log = work / "bench.log"
        (work / "quick_defs.py").write_text(agent_e2e.QUICK_DEFS)
        (work / "assay.yaml").write_text(
            f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
            "  tls:\n    insecure: true\n"
            f"state_dir: {work / 'state'}\n"
            "deployments:\n  - prod\n"
            "code_locations:\n  - name: quick\n    module: quick_defs\n"
        )
        agent_id = agent_e2e._fill_outbox(work / "state", str(run.id))
        agent = agent_e2e._start(
            [str(agent_e2e.AGENT), "run", "--config", str(work / "assay.yaml")],
            log,
            env={**os.environ, "ASSAY_AGENT_TOKEN": token},
        )
        processes.append(agent)
        return agent_e2e._ingestion_rate(
            ctx,
            agent_id,
            log,
            {
                "gRPC server": lambda: [grpc_server.pid],
                "PostgreSQL": lambda: agent_e2e._postgres_pids(server),
                "agent": lambda: [agent.pid],
            },
        )
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()


def _check_ledger(ctx) -> None:
    from django.db.models import Sum

    from billing.models import CreditLedgerEntry, DailyUsage
    from billing.rollup import roll_up_usage
    from control_plane.core.context import tenant_context
    from control_plane.runs.models import EventLogEntry

    roll_up_usage()  # whatever the loop had not folded in when it was stopped
    with tenant_context(ctx):
        materialized = EventLogEntry.objects.filter(event_type="asset_materialization").count()
        ledger = CreditLedgerEntry.objects.count()
        rolled = DailyUsage.objects.aggregate(n=Sum("credits"))["n"] or 0
    print(
        f"metering: {materialized} materializations, {ledger} ledger rows, {rolled} credits "
        "in rollups",
        file=sys.stderr,
    )
    if not materialized == ledger == rolled:
        raise SystemExit("the ledger does not match the materializations")


def _seed_year(ctx, deployment, location) -> None:
    from django.utils import timezone

    from billing.models import DailyUsage
    from control_plane.core import bulk

    today = timezone.now().date()
    columns = (
        "organization_id",
        "deployment_id",
        "code_location_id",
        "asset_key",
        "day",
        "credits",
    )
    started = time.perf_counter()
    DailyUsage.objects.unscoped().filter(organization_id=ctx.organization.pk).delete()
    rows = (
        (
            ctx.organization.pk,
            deployment.pk,
            location.pk,
            f"asset_{a:04d}",
            today - timedelta(days=d),
            1 + (a * 7 + d) % 24,
        )
        for d in range(DAYS)
        for a in range(ASSETS)
    )
    from django.db import connection, transaction

    with transaction.atomic():
        assert bulk.copy_rows(table=DailyUsage._meta.db_table, columns=columns, rows=rows)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {DailyUsage._meta.db_table}")
    print(
        f"usage: {ASSETS * DAYS} rollup rows loaded in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )


def _usage_page_ms(admin, slug: str) -> float:
    from django.test import Client

    client = Client()
    client.force_login(admin)
    path = f"/o/{slug}/billing/"
    assert client.get(path).status_code == 200
    timings = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(path)
        timings.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200
    return statistics.median(timings)


def main() -> None:
    if not agent_e2e.AGENT.exists():
        raise SystemExit(f"{agent_e2e.AGENT} is not installed (pip install -e .)")
    work = Path(tempfile.mkdtemp(prefix="assay-bench-billing-"))
    with throwaway_control_plane(
        ASSAY_HOME=str(work / "home"), GRPC_VERBOSITY="ERROR", ASSAY_ALLOWED_HOSTS="testserver"
    ) as server:
        ctx, token, deployment, location, run = agent_e2e._seed()
        events_per_s = _ingest(ctx, run, token, server, work)
        _check_ledger(ctx)
        from control_plane.core.context import tenant_context

        with tenant_context(ctx):
            _seed_year(ctx, deployment, location)
        page_ms = _usage_page_ms(ctx.principal.user, ctx.organization.slug)
        print(
            json.dumps(
                {
                    "ingest_events_per_s_with_metering": round(events_per_s),
                    "usage_page_ms": round(page_ms, 1),
                }
            )
        )
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
