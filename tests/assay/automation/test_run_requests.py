"""Grouping requested partitions into runs."""

from __future__ import annotations

from assay import AssetSpec, Definitions, asset, multi_asset
from assay.automation import AutomationCondition as AC
from assay.partitions import StaticPartitionsDefinition

from .helpers import DAILY, World

REGIONS = StaticPartitionsDefinition(["eu", "us"])


def test_runs_are_one_per_partition_key_per_definition_plus_one_unpartitioned():
    missing = AC.missing()

    @asset(partitions_def=DAILY, automation_condition=AC.in_latest_time_window() & missing)
    def events(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.in_latest_time_window() & missing)
    def sessions(events): ...

    @asset(partitions_def=REGIONS, automation_condition=missing)
    def regional(): ...

    @asset(automation_condition=missing)
    def summary(): ...

    @asset(automation_condition=missing)
    def dashboard(summary): ...

    world = World(Definitions(assets=[events, sessions, regional, summary, dashboard]))
    result = world.tick()
    runs = {
        (r.partition_key, tuple(k.to_user_string() for k in r.asset_keys))
        for r in result.run_requests
    }
    assert runs == {
        (None, ("summary", "dashboard")),
        ("2024-01-09", ("events", "sessions")),
        ("eu", ("regional",)),
        ("us", ("regional",)),
    }
    assert all(r.tags == {"assay/automation": "true"} for r in result.run_requests)


def test_child_requested_because_its_parent_will_be_requested_shares_the_run():
    @asset(partitions_def=DAILY, automation_condition=AC.on_missing())
    def raw(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def derived(raw): ...

    world = World(Definitions(assets=[raw, derived]))
    world.materialize("derived", "2024-01-09")  # derived exists; raw goes missing
    result = world.tick()
    (run,) = result.run_requests
    assert [k.to_user_string() for k in run.asset_keys] == ["raw", "derived"]
    assert run.partition_key == "2024-01-09"


def test_a_multi_asset_declares_one_condition_for_all_its_assets_and_they_run_together():
    @multi_asset(
        specs=[AssetSpec("orders"), AssetSpec("refunds")],
        partitions_def=DAILY,
        automation_condition=AC.eager(),
    )
    def shop_tables():
        return 1, 2

    world = World(Definitions(assets=[shop_tables]))
    (run,) = world.tick().run_requests
    assert (run.partition_key, [k.to_user_string() for k in run.asset_keys]) == (
        "2024-01-09",
        ["orders", "refunds"],
    )
