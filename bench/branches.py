"""Benchmark: change tracking between two 10,000-asset snapshots with 500 changes.

    .venv/bin/python bench/branches.py

The base snapshot is 200 pipelines of 50 assets (each asset reads 1-2 earlier assets of its
pipeline, every 25th also one asset of the previous pipeline), a third of them daily
partitioned since 2023-01-01, with a check on every 10th asset. The branch changes 500
assets across every change kind, adds 20 and removes 10. Prints one JSON line:
{"diff_10k_ms": median milliseconds of `diff_snapshots` (blast radius and cost included)}.
`ready_s` (create-or-update to the branch's location loaded) is not measured yet: the
agent does not load git sources in this build, and a number without it would be invented.
"""

from __future__ import annotations

import dataclasses
import json
import random
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIPELINES = 200
LENGTH = 50
CHANGES = 500
ROUNDS = 7
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def base_snapshot():  # type: ignore[no-untyped-def]
    from assay import DailyPartitionsDefinition
    from assay.snapshot import SNAPSHOT_VERSION, AssetSnapshot, CheckSnapshot, DefinitionsSnapshot

    daily = DailyPartitionsDefinition(start_date="2023-01-01").to_snapshot()
    rng = random.Random(10_000)
    assets, checks = [], []
    for p in range(PIPELINES):
        for i in range(LENGTH):
            n = p * LENGTH + i
            deps = [f"a{p * LENGTH + j}" for j in rng.sample(range(i), min(i, rng.randint(1, 2)))]
            if p and i % 25 == 0:
                deps.append(f"a{(p - 1) * LENGTH + rng.randrange(LENGTH)}")
            assets.append(
                AssetSnapshot(
                    key=f"a{n}",
                    deps=sorted(deps),
                    group=f"g{p}",
                    owners=["team:data"],
                    tags={"tier": "gold"},
                    kinds=["python"],
                    description=None,
                    metadata={},
                    code_version="1",
                    is_external=False,
                    is_observable=False,
                    compute_name=f"a{n}",
                    partitions=daily if p % 3 == 0 else None,
                )
            )
            if n % 10 == 0:
                checks.append(CheckSnapshot(f"a{n}", "not_empty", False, None))
    return DefinitionsSnapshot(version=SNAPSHOT_VERSION, assets=assets, checks=checks, jobs=[])


def branch_snapshot(base):  # type: ignore[no-untyped-def]
    from assay.snapshot import CheckSnapshot

    rng = random.Random(500)
    assets = list(base.assets)
    checks = list(base.checks)
    edits = [
        lambda a: dataclasses.replace(a, code_version="2"),
        lambda a: dataclasses.replace(a, metadata={"rows": 1}),
        lambda a: dataclasses.replace(a, owners=["team:other"]),
        lambda a: dataclasses.replace(a, deps=a.deps[:-1]),
        lambda a: dataclasses.replace(a, automation_condition={"type": "eager"}),
    ]
    for n, i in enumerate(rng.sample(range(len(assets)), CHANGES)):
        if n % 6 == 5:
            checks.append(CheckSnapshot(assets[i].key, "fresh", True, None))
        else:
            assets[i] = edits[n % 6](assets[i])
    removed = {f"a{i * LENGTH + LENGTH - 1}" for i in range(10)}
    assets = [a for a in assets if a.key not in removed]
    assets += [dataclasses.replace(assets[0], key=f"new{i}", deps=["a0"]) for i in range(20)]
    return dataclasses.replace(base, assets=assets, checks=checks)


def main() -> None:
    from assay.branch_diff import diff_snapshots

    base = base_snapshot()
    branch = branch_snapshot(base)
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        diff = diff_snapshots(base, branch, current_time=NOW)
        times.append((time.perf_counter() - start) * 1000)
    if len(diff.changed) < CHANGES - 20 or len(diff.new) != 20 or len(diff.removed) != 10:
        raise SystemExit(f"unexpected diff: {len(diff.changed)} changed")
    print(
        f"changed={len(diff.changed)} blast={len(diff.blast_radius)} "
        f"credits={diff.cost.credits_once}",
        file=sys.stderr,
    )
    print(json.dumps({"diff_10k_ms": round(statistics.median(times), 1)}))


if __name__ == "__main__":
    main()
