"""Incremental ticks decide exactly what a tick that re-evaluates every asset decides.

Random graphs (partitioned and not, several conditions) go through random histories
(materializations, runs starting and failing, time passing over cron ticks and day
boundaries, cursors through JSON). Two evaluators share the status: one incremental,
one re-evaluating everything; their requests and their cursors' memory must agree.
"""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from assay import AssetKey, Definitions, asset
from assay.automation import AutomationCondition as AC
from assay.automation import AutomationCursor, InMemoryStatusView, evaluate_automation_conditions
from assay.automation.subsets import ALL_UNPARTITIONED

from .helpers import DAILY, T0

CONDITIONS = [
    AC.eager,
    AC.on_missing,
    lambda: AC.on_cron("0 */6 * * *"),
    lambda: AC.missing() & ~AC.any_deps_missing() & ~AC.in_progress(),
    lambda: AC.any_deps_updated() | AC.execution_failed().newly_true(),
    lambda: AC.code_version_changed() | AC.missing().newly_true().since(AC.newly_updated()),
    lambda: AC.in_latest_time_window() & AC.any_deps_in_progress().newly_true(),
]


def random_definitions(rng: random.Random, version: int = 0) -> Definitions:
    assets = []
    names: list[str] = []
    for i in range(rng.randint(4, 10)):
        name = f"a{i}"
        parents = rng.sample(names, k=min(len(names), rng.randint(0, 2)))
        partitioned = rng.random() < 0.7
        condition = rng.choice(CONDITIONS)() if rng.random() < 0.9 else None
        assets.append(
            asset(
                name=name,
                deps=[AssetKey(p) for p in parents],
                partitions_def=DAILY if partitioned else None,
                automation_condition=condition,
                code_version=str(version if i % 3 == 0 else 0),
            )(lambda: None)
        )
        names.append(name)
    return Definitions(assets=assets)


def requested(result) -> dict[str, list]:  # type: ignore[no-untyped-def]
    return {k.to_user_string(): list(v) for k, v in result.requested.items()}


def memory(cursor: AutomationCursor) -> dict[str, object]:
    data = AutomationCursor.from_json(cursor.to_json())
    return {k.to_user_string(): v["state"] for k, v in data.assets.items()}  # type: ignore[index]


@pytest.mark.parametrize("seed", range(40))
def test_incremental_tick_requests_what_a_full_tick_requests(seed: int) -> None:
    rng = random.Random(seed)
    graph_seed = rng.random()
    defs = random_definitions(random.Random(graph_seed))
    status = InMemoryStatusView()
    now = T0
    incremental: AutomationCursor | str | None = None
    full: AutomationCursor | None = None
    keys = list(defs.asset_graph.toposorted)
    for step in range(14):
        for _ in range(rng.randint(0, 3)):
            asset_key = rng.choice(keys)
            pd = defs.asset_graph.nodes[asset_key].spec.partitions_def
            if pd is None:
                subset = ALL_UNPARTITIONED
            else:
                all_keys = pd.get_partition_keys(now)
                subset = pd.subset_with_partition_keys(rng.sample(all_keys, k=rng.randint(1, 3)))
            action = rng.random()
            if action < 0.6:
                status.record_materialization(asset_key, subset, timestamp=now.timestamp())
            elif action < 0.8:
                status.record_in_progress(asset_key, subset)
            else:
                status.record_failure(asset_key, subset)
        if step == 7 and rng.random() < 0.5:
            defs = random_definitions(random.Random(graph_seed), version=1)  # code change
        a = evaluate_automation_conditions(
            defs=defs, instance=status, evaluation_time=now, cursor=incremental
        )
        b = evaluate_automation_conditions(
            defs=defs, instance=status, evaluation_time=now, cursor=full, incremental=False
        )
        assert requested(a) == requested(b), f"seed {seed}, step {step}"
        assert memory(a.cursor) == memory(b.cursor), f"seed {seed}, step {step}"
        assert a.num_evaluated <= b.num_evaluated
        incremental = a.cursor.to_json() if rng.random() < 0.3 else a.cursor
        full = b.cursor
        if rng.random() < 0.5:  # the requested runs happen
            for asset_key, subset in a.requested.items():
                status.record_materialization(asset_key, subset, timestamp=now.timestamp())
        now += rng.choice(
            [
                timedelta(0),
                timedelta(minutes=7),
                timedelta(hours=2),
                timedelta(hours=7),
                timedelta(days=1),
            ]
        )


def test_a_quiet_tick_evaluates_nothing_and_a_change_only_its_downstream() -> None:
    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def a(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def b(a): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def c(): ...

    defs = Definitions(assets=[a, b, c])
    status = InMemoryStatusView()
    all_days = DAILY.subset_with_all_partitions(T0)
    for name in "abc":
        status.record_materialization(AssetKey(name), all_days, timestamp=T0.timestamp())
    result = evaluate_automation_conditions(defs=defs, instance=status, evaluation_time=T0)
    assert result.num_evaluated == 3
    result = evaluate_automation_conditions(
        defs=defs, instance=status, evaluation_time=T0, cursor=result.cursor
    )
    assert result.num_evaluated == 0
    status.record_materialization(
        AssetKey("a"), DAILY.subset_with_partition_keys(["2024-01-02"]), timestamp=T0.timestamp()
    )
    result = evaluate_automation_conditions(
        defs=defs, instance=status, evaluation_time=T0, cursor=result.cursor
    )
    assert {k.to_user_string() for k, e in result.evaluations.items() if e.evaluated} == {"a", "b"}
