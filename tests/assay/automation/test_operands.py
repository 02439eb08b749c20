"""Each operand, alone as an asset's condition, on a tiny graph with known status."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC
from assay.automation import InvalidAutomationCondition
from assay.partitions import MultiPartitionsDefinition, StaticPartitionsDefinition

from .helpers import DAILY, World, key


def two_assets(condition: AC, *, partitioned: bool = True) -> Definitions:
    pd = DAILY if partitioned else None

    @asset(partitions_def=pd)
    def up(): ...

    @asset(partitions_def=pd, automation_condition=condition)
    def down(up): ...

    return Definitions(assets=[up, down])


def test_missing_is_true_for_partitions_never_materialized():
    world = World(two_assets(AC.missing()))
    world.materialize("down", "2024-01-01", "2024-01-02")
    world.tick()
    assert world.requested("down")[:2] == ["2024-01-03", "2024-01-04"]
    assert len(world.requested("down")) == 7


def test_in_progress_is_true_while_a_run_is_on_the_partition():
    world = World(two_assets(AC.in_progress()))
    world.start("down", "2024-01-05")
    world.tick()
    assert world.requested("down") == ["2024-01-05"]
    world.materialize("down", "2024-01-05")
    world.tick()
    assert world.requested("down") == []


def test_execution_failed_is_true_until_a_later_materialization():
    world = World(two_assets(AC.execution_failed()))
    world.fail("down", "2024-01-03")
    world.tick()
    assert world.requested("down") == ["2024-01-03"]
    world.materialize("down", "2024-01-03")
    world.tick()
    assert world.requested("down") == []


def test_newly_updated_is_false_on_the_first_tick_and_true_once_after_an_update():
    world = World(two_assets(AC.newly_updated()))
    world.materialize("down", "2024-01-01")
    world.tick()
    assert world.requested("down") == []
    world.materialize("down", "2024-01-02")
    world.tick()
    assert world.requested("down") == ["2024-01-02"]
    world.tick()
    assert world.requested("down") == []


def test_newly_requested_is_true_on_the_tick_after_a_request():
    world = World(two_assets(~AC.newly_requested() & AC.missing().newly_true()))
    world.tick()
    assert len(world.requested("down")) == 9

    def newly_requested_count() -> int:
        assert world.last is not None
        explanation = world.last.evaluations[key("down")].explanation
        assert explanation is not None
        return explanation.children[0].children[0].num_true

    world.tick()
    assert newly_requested_count() == 9
    world.tick()
    assert newly_requested_count() == 0


def test_any_deps_updated_maps_parent_updates_onto_child_partitions():
    world = World(two_assets(AC.any_deps_updated()))
    world.tick()
    world.materialize("up", "2024-01-04", "2024-01-06")
    world.tick()
    assert world.requested("down") == ["2024-01-04", "2024-01-06"]


def test_any_deps_updated_counts_a_parent_requested_in_the_same_tick():
    @asset(partitions_def=DAILY, automation_condition=AC.in_latest_time_window())
    def up(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.any_deps_updated())
    def down(up): ...

    world = World(Definitions(assets=[up, down]))
    world.tick()
    assert world.requested("up") == ["2024-01-09"]
    assert world.requested("down") == ["2024-01-09"]


def test_any_deps_missing_is_true_where_a_parent_partition_is_missing():
    world = World(two_assets(AC.any_deps_missing()))
    world.materialize("up", *[f"2024-01-0{d}" for d in range(1, 9)])
    world.tick()
    assert world.requested("down") == ["2024-01-09"]


def test_any_deps_in_progress_is_true_where_a_parent_is_running():
    world = World(two_assets(AC.any_deps_in_progress()))
    world.start("up", "2024-01-02")
    world.tick()
    assert world.requested("down") == ["2024-01-02"]


def test_any_deps_operands_on_an_unpartitioned_child_of_a_partitioned_parent():
    @asset(partitions_def=DAILY)
    def up(): ...

    @asset(automation_condition=AC.any_deps_missing() | AC.any_deps_updated())
    def report(up): ...

    world = World(Definitions(assets=[up, report]))
    world.materialize("up", *[f"2024-01-0{d}" for d in range(1, 10)])
    world.tick()
    assert world.requested("report") == []  # all there, nothing new on the first tick
    world.materialize("up", "2024-01-03")
    world.tick()
    assert world.requested("report") == [None]


def test_all_deps_updated_since_cron_needs_every_parent_after_the_latest_tick():
    @asset
    def a(): ...

    @asset
    def b(): ...

    @asset(automation_condition=AC.all_deps_updated_since_cron("0 0 * * *"))
    def c(a, b): ...

    world = World(Definitions(assets=[a, b, c]))  # 01:00, the tick was at 00:00
    world.materialize("a")
    world.tick()
    assert world.requested("c") == []
    world.materialize("b")
    world.tick()
    assert world.requested("c") == [None]
    world.advance(days=1)  # a new tick at midnight: the old updates no longer count
    world.tick()
    assert world.requested("c") == []


def test_cron_tick_passed_is_true_once_per_tick_between_evaluations():
    @asset(automation_condition=AC.cron_tick_passed("0 6 * * *", "Europe/Berlin"))
    def report(): ...

    world = World(Definitions(assets=[report]))
    world.tick()
    assert world.requested("report") == []  # the first tick has no "since"
    world.advance(hours=3)  # 04:00 UTC = 05:00 Berlin: not yet
    world.tick()
    assert world.requested("report") == []
    world.advance(hours=1)  # 05:00 UTC = 06:00 Berlin
    world.tick()
    assert world.requested("report") == [None]
    world.advance(minutes=5)
    world.tick()
    assert world.requested("report") == []


def test_code_version_changed_is_true_once_after_the_definition_changes():
    def build(version: str) -> Definitions:
        @asset(code_version=version, automation_condition=AC.code_version_changed())
        def model(): ...

        return Definitions(assets=[model])

    world = World(build("1"))
    world.tick()
    assert world.requested("model") == []
    world.defs = build("2")
    world.tick()
    assert world.requested("model") == [None]
    world.tick()
    assert world.requested("model") == []


def test_in_latest_time_window_is_the_last_partition_or_everything_when_unpartitioned():
    world = World(two_assets(AC.in_latest_time_window()))
    world.tick()
    assert world.requested("down") == ["2024-01-09"]
    world = World(two_assets(AC.in_latest_time_window(), partitioned=False))
    world.tick()
    assert world.requested("down") == [None]


def test_will_be_requested_is_false_for_an_asset_not_yet_requested_this_tick():
    world = World(two_assets(AC.will_be_requested()))
    world.tick()
    assert world.requested("down") == []


def test_invalid_cron_expression_is_named_in_the_error():
    with pytest.raises(InvalidAutomationCondition, match="'0 25 \\* \\* \\*'"):
        AC.on_cron("0 25 * * *")
    with pytest.raises(InvalidAutomationCondition, match="Mars/Olympus"):
        AC.cron_tick_passed("0 6 * * *", "Mars/Olympus")


def test_declared_partition_mapping_is_used_to_map_parent_updates():
    from assay import AssetIn
    from assay.partitions import TimeWindowPartitionMapping

    @asset(partitions_def=DAILY)
    def prices(): ...

    @asset(
        partitions_def=DAILY,
        ins={"prices": AssetIn(partition_mapping=TimeWindowPartitionMapping(-1, -1))},
        automation_condition=AC.any_deps_updated(),
    )
    def next_day_forecast(prices): ...

    world = World(Definitions(assets=[prices, next_day_forecast]))
    world.tick()
    world.materialize("prices", "2024-01-03")
    world.tick()
    assert world.requested("next_day_forecast") == ["2024-01-04"]


def test_dynamic_partitions_come_from_the_store_and_new_keys_are_noticed():
    from assay.automation import evaluate_automation_conditions
    from assay.partitions import DynamicPartitionsDefinition, InMemoryDynamicPartitionsStore

    customers = DynamicPartitionsDefinition(name="customers")

    @asset(partitions_def=customers, automation_condition=AC.on_missing())
    def invoices(): ...

    defs = Definitions(assets=[invoices])
    store = InMemoryDynamicPartitionsStore({"customers": ["acme"]})
    world = World(defs)
    first = evaluate_automation_conditions(
        defs=defs, instance=world.status, evaluation_time=world.now, dynamic_partitions_store=store
    )
    assert list(first.requested[key("invoices")]) == ["acme"]
    store.add_dynamic_partitions("customers", ["globex"])
    second = evaluate_automation_conditions(
        defs=defs,
        instance=world.status,
        evaluation_time=world.now,
        cursor=first.cursor,
        dynamic_partitions_store=store,
    )
    assert list(second.requested[key("invoices")]) == ["globex"]


def test_in_latest_time_window_of_a_date_by_region_asset_is_the_last_day_of_every_region():
    by_region = MultiPartitionsDefinition(
        {"date": DAILY, "region": StaticPartitionsDefinition(["eu", "us"])}
    )

    @asset(partitions_def=by_region, automation_condition=AC.in_latest_time_window())
    def sales(): ...

    world = World(Definitions(assets=[sales]))
    world.tick()
    assert world.requested("sales") == ["2024-01-09|eu", "2024-01-09|us"]
