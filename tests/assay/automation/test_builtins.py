"""The built-in conditions: their composition and a worked example each."""

from __future__ import annotations

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC
from assay.partitions import MultiPartitionsDefinition, StaticPartitionsDefinition

from .helpers import DAILY, World


def test_builtins_are_the_documented_compositions():
    assert AC.eager().describe() == (
        "in_latest_time_window() & (newly_missing() | any_deps_updated()).since_last_handled()"
        " & ~any_deps_missing() & ~any_deps_in_progress() & ~in_progress()"
    )
    assert AC.on_cron("0 6 * * *").describe() == (
        "in_latest_time_window() & cron_tick_passed('0 6 * * *').since_last_handled()"
        " & all_deps_updated_since_cron('0 6 * * *')"
    )
    assert AC.on_missing().describe() == (
        "in_latest_time_window() & newly_missing().since_last_handled()"
        " & ~any_deps_missing() & ~any_deps_in_progress()"
    )


def eager_chain() -> Definitions:
    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def raw(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def clean(raw): ...

    return Definitions(assets=[raw, clean])


def test_eager_fills_the_latest_partition_of_parent_and_child_in_one_run():
    world = World(eager_chain())
    result = world.tick()
    assert [
        (r.partition_key, [k.to_user_string() for k in r.asset_keys]) for r in result.run_requests
    ] == [("2024-01-09", ["raw", "clean"])]


def test_eager_runs_the_child_once_when_the_parent_updates_then_waits():
    world = World(eager_chain())
    world.tick()
    world.run_requested()
    assert world.tick().requested == {}  # handled: newly updated resets the trigger
    world.materialize("raw", "2024-01-09")  # someone re-runs the parent
    world.tick()
    assert world.requested("clean") == ["2024-01-09"]
    assert world.requested("raw") == []
    world.tick()  # requested last tick: handled, not requested twice
    assert world.requested("clean") == []


def test_eager_waits_while_the_parent_is_in_progress_and_remembers_the_update():
    world = World(eager_chain())
    world.tick()
    world.run_requested()
    world.tick()
    world.materialize("raw", "2024-01-09")
    world.start("raw", "2024-01-09")  # and a second run started already
    world.tick()
    assert world.requested("clean") == []
    world.materialize("raw", "2024-01-09")
    world.tick()
    assert world.requested("clean") == ["2024-01-09"]


def test_eager_does_not_run_when_a_parent_partition_is_missing():
    @asset(partitions_def=DAILY)
    def external_feed(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def report(external_feed): ...

    world = World(Definitions(assets=[external_feed, report]))
    world.tick()
    assert world.requested("report") == []
    world.materialize("external_feed", "2024-01-09")
    world.tick()
    assert world.requested("report") == ["2024-01-09"]


def test_on_cron_runs_once_per_tick_after_all_parents_updated():
    @asset
    def orders(): ...

    @asset(automation_condition=AC.on_cron("0 6 * * *"))
    def daily_report(orders): ...

    world = World(Definitions(assets=[orders, daily_report]))  # 01:00 UTC
    world.tick()
    world.advance(hours=5, minutes=1)  # 06:01: the cron ticked, orders not yet updated
    world.tick()
    assert world.requested("daily_report") == []
    world.advance(hours=1)
    world.materialize("orders")
    world.tick()
    assert world.requested("daily_report") == [None]
    world.run_requested()
    world.advance(hours=1)
    world.materialize("orders")
    world.tick()
    assert world.requested("daily_report") == []  # once per cron tick


def test_on_missing_fills_a_new_partition_once():
    @asset(partitions_def=DAILY, automation_condition=AC.on_missing())
    def snapshot(): ...

    world = World(Definitions(assets=[snapshot]))
    world.tick()
    assert world.requested("snapshot") == ["2024-01-09"]
    world.tick()
    assert world.requested("snapshot") == []  # requested, not yet materialized: no repeat
    world.advance(days=1)
    world.tick()
    assert world.requested("snapshot") == ["2024-01-10"]


def test_eager_on_a_date_by_region_asset_runs_only_the_latest_day_of_each_region():
    by_region = MultiPartitionsDefinition(
        {"date": DAILY, "region": StaticPartitionsDefinition(["eu", "us"])}
    )

    @asset(partitions_def=by_region, automation_condition=AC.eager())
    def sales(): ...

    @asset(partitions_def=by_region, automation_condition=AC.eager())
    def margins(sales): ...

    world = World(Definitions(assets=[sales, margins]))
    result = world.tick()
    assert [
        (r.partition_key, [k.to_user_string() for k in r.asset_keys]) for r in result.run_requests
    ] == [
        ("2024-01-09|eu", ["sales", "margins"]),
        ("2024-01-09|us", ["sales", "margins"]),
    ]
