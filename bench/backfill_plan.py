"""Benchmark: plan a backfill of 365 daily partitions x 1,000 assets.

    .venv/bin/python bench/backfill_plan.py

The assets form a layered DAG (width 50, each asset reads 1-3 assets of the previous
layer), all daily partitioned; every 10th asset has `BackfillPolicy.multi_run(7)` and
every 50th `single_run()`, so the plan has many groups and cross-group waits.
Prints one JSON line: {"plan_s": seconds for `plan_backfill` (graph already built)}.
"""

from __future__ import annotations

import json
import random
import time
import types
from datetime import UTC, datetime

N_ASSETS = 1000
WIDTH = 50


def _arity0(context):
    return 1


def _arity1(context, p0):
    return 1


def _arity2(context, p0, p1):
    return 1


def _arity3(context, p0, p1, p2):
    return 1


TEMPLATES = [_arity0, _arity1, _arity2, _arity3]


def build_definitions():  # type: ignore[no-untyped-def]
    from assay import AssetIn, BackfillPolicy, DailyPartitionsDefinition, Definitions, asset

    daily = DailyPartitionsDefinition(start_date="2023-01-01")
    rng = random.Random(N_ASSETS)
    assets = []
    for i in range(N_ASSETS):
        layer = i // WIDTH
        previous = list(range((layer - 1) * WIDTH, layer * WIDTH)) if layer else []
        parents = rng.sample(previous, rng.randint(1, 3)) if previous else []
        template = TEMPLATES[len(parents)]
        fn = types.FunctionType(template.__code__, template.__globals__, f"asset_{i}")
        policy = None
        if i % 50 == 0:
            policy = BackfillPolicy.single_run()
        elif i % 10 == 0:
            policy = BackfillPolicy.multi_run(7)
        ins = {f"p{j}": AssetIn(f"asset_{p}") for j, p in enumerate(parents)}
        assets.append(
            asset(fn, name=f"asset_{i}", ins=ins, partitions_def=daily, backfill_policy=policy)
        )
    return Definitions(assets=assets)


def main() -> None:
    from assay import PartitionKeyRange
    from assay.backfill import plan_backfill

    defs = build_definitions()
    started = time.perf_counter()
    plan = plan_backfill(
        defs.asset_graph,
        partition_key_range=PartitionKeyRange("2023-01-01", "2023-12-31"),
        current_time=datetime(2024, 1, 2, tzinfo=UTC),
        max_concurrent_runs=10,
    )
    elapsed = time.perf_counter() - started
    assert plan.num_partitions == 365 * N_ASSETS, plan.num_partitions
    print(json.dumps({"plan_s": round(elapsed, 4)}))


if __name__ == "__main__":
    main()
