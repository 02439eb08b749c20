"""The control plane evaluates automation over a graph rebuilt from snapshots: it must
decide exactly what the code location's own definitions decide."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from assay import AssetIn, AssetKey, AssetSpec, Definitions, asset, multi_asset
from assay.automation import AutomationCondition as AC
from assay.automation import InMemoryStatusView, evaluate_automation_conditions
from assay.automation.condition import AutomationCondition
from assay.automation.operands import InLatestTimeWindow
from assay.automation.serialize import condition_from_tree, condition_to_tree
from assay.automation.subsets import ALL_UNPARTITIONED
from assay.freshness import FreshnessPolicy
from assay.partitions import (
    DailyPartitionsDefinition,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
)
from assay.snapshot import DefinitionsSnapshot, build_snapshot
from assay.snapshot_graph import asset_graph_from_snapshots

DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
NOW = datetime(2024, 1, 10, 1, 0, tzinfo=UTC)

CONDITIONS = [
    AC.eager(),
    AC.on_missing(),
    AC.on_cron("0 9 * * 1-5", "Europe/Berlin"),
    AC.missing() & ~AC.in_progress() | AC.code_version_changed(),
    AC.any_deps_updated().since(AC.newly_requested()).newly_true(),
    InLatestTimeWindow(timedelta(days=3)) & AC.execution_failed(),
    (AC.will_be_requested() | AC.any_deps_missing()).with_label("my rule"),
    AC.all_deps_updated_since_cron("*/15 * * * *") & ~AC.any_deps_in_progress(),
]


@pytest.mark.parametrize("condition", CONDITIONS, ids=lambda c: c.label)
def test_a_condition_rebuilt_from_its_tree_describes_itself_identically(condition):
    rebuilt = condition_from_tree(condition_to_tree(condition))
    assert rebuilt.describe() == condition.describe()
    assert rebuilt.label == condition.label


def _project() -> Definitions:
    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def raw_events() -> None: ...

    @asset(
        partitions_def=DAILY,
        ins={"raw_events": AssetIn(partition_mapping=TimeWindowPartitionMapping(start_offset=-1))},
        automation_condition=AC.eager(),
        freshness_policy=FreshnessPolicy(maximum_lag_minutes=90),
    )
    def rolling(raw_events) -> None: ...

    @multi_asset(
        specs=[
            AssetSpec("report/a", deps=["rolling"], automation_condition=AC.on_missing()),
            AssetSpec("report/b", deps=["rolling"], automation_condition=AC.on_missing()),
        ]
    )
    def reports() -> None: ...

    @asset(
        partitions_def=StaticPartitionsDefinition(["eu", "us"]),
        deps=["vendor_feed"],
        automation_condition=AC.eager(),
    )
    def regional() -> None: ...

    return Definitions(assets=[raw_events, rolling, reports, regional, AssetSpec("vendor_feed")])


def _rebuilt(defs: Definitions):
    wire = DefinitionsSnapshot.from_json(build_snapshot(defs).to_json())
    return asset_graph_from_snapshots({"analytics": wire})


def test_the_rebuilt_graph_keeps_keys_edges_partitions_and_policies():
    defs = _project()
    rebuilt = _rebuilt(defs)
    graph = rebuilt.graph
    original = defs.asset_graph
    assert set(graph.nodes) == set(original.nodes)
    for key, node in original.nodes.items():
        assert set(graph.nodes[key].parents) == set(node.parents), key
        assert graph.nodes[key].spec.partitions_def == node.spec.partitions_def
        assert graph.nodes[key].is_materializable == node.is_materializable
    rolling = graph.nodes[AssetKey("rolling")].spec
    assert rolling.freshness_policy == FreshnessPolicy(maximum_lag_minutes=90)
    assert rebuilt.location_of[AssetKey(["report", "a"])] == "analytics"
    assert not rebuilt.skipped_conditions


def test_automation_over_the_rebuilt_graph_requests_what_the_definitions_request():
    defs = _project()
    graph = _rebuilt(defs).graph
    status = InMemoryStatusView()
    status.record_materialization(AssetKey("vendor_feed"), ALL_UNPARTITIONED, timestamp=1.0)
    cursors: dict = {"defs": None, "graph": None}
    requested_per_tick = []
    for step in range(3):
        now = NOW + timedelta(hours=step)
        results = {}
        for name, source in (("defs", defs), ("graph", graph)):
            results[name] = evaluate_automation_conditions(
                defs=source, instance=status, evaluation_time=now, cursor=cursors[name]
            )
            cursors[name] = results[name].cursor
        assert results["graph"].requested == results["defs"].requested
        assert results["graph"].cursor.to_json() == results["defs"].cursor.to_json()
        requested_per_tick.append(set(results["defs"].requested))
        for key, subset in results["defs"].requested.items():
            status.record_materialization(key, subset, timestamp=now.timestamp())
        if step == 1:  # the external feed updates: its eager child reacts next tick
            status.record_materialization(
                AssetKey("vendor_feed"), ALL_UNPARTITIONED, timestamp=now.timestamp()
            )
    assert AssetKey("raw_events") in requested_per_tick[0]
    assert requested_per_tick[2] == {AssetKey("regional")}


class _Custom(AutomationCondition):
    def _describe(self) -> str:
        return "my_custom()"


def test_a_custom_condition_is_skipped_with_a_reason_and_the_rest_still_evaluates():
    @asset(automation_condition=_Custom())
    def bespoke() -> None: ...

    @asset(automation_condition=AC.on_missing())
    def plain() -> None: ...

    rebuilt = _rebuilt(Definitions(assets=[bespoke, plain]))
    assert "my_custom()" in rebuilt.skipped_conditions[AssetKey("bespoke")]
    result = evaluate_automation_conditions(
        defs=rebuilt.graph, instance=InMemoryStatusView(), evaluation_time=NOW
    )
    assert set(result.requested) == {AssetKey("plain")}


def test_locations_form_one_graph_and_a_dependency_across_them_is_an_edge():
    @asset
    def upstream() -> None: ...

    @asset(deps=["upstream"], automation_condition=AC.eager())
    def downstream() -> None: ...

    first = build_snapshot(Definitions(assets=[upstream]))
    second = build_snapshot(Definitions(assets=[downstream, AssetSpec("upstream")]))
    rebuilt = asset_graph_from_snapshots({"ingest": first, "marts": second})
    assert rebuilt.graph.nodes[AssetKey("downstream")].parents == (AssetKey("upstream"),)
    assert rebuilt.graph.nodes[AssetKey("upstream")].is_materializable
    assert rebuilt.location_of[AssetKey("upstream")] == "ingest"
