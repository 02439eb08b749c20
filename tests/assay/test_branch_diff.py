"""Change tracking between a base deployment's snapshots and a branch's, from snapshots only."""

import dataclasses
from datetime import UTC, datetime

import pytest

from assay import (
    AssetCheckResult,
    AutomationCondition,
    DailyPartitionsDefinition,
    Definitions,
    StaticPartitionsDefinition,
    asset,
    asset_check,
)
from assay.branch_diff import CHANGE_KINDS, diff_snapshots
from assay.errors import AssayError
from assay.snapshot import build_snapshot

NOW = datetime(2024, 1, 11, 12, tzinfo=UTC)  # ten full days since 2024-01-01


def _defs(
    *,
    raw_version="1",
    orders_deps=("raw",),
    orders_owners=("ana@example.com",),
    report_partitions=None,
    clean_condition=None,
    with_check=False,
    extra=False,
    with_legacy=True,
    metadata=None,
):
    """raw -> clean -> orders -> report, legacy hanging off raw."""

    @asset(code_version=raw_version)
    def raw():
        return 1

    @asset(automation_condition=clean_condition, metadata=metadata or {})
    def clean(raw):
        return raw

    @asset(deps=list(orders_deps), owners=list(orders_owners))
    def orders(clean):
        return clean

    @asset(partitions_def=report_partitions)
    def report(orders):
        return orders

    assets = [raw, clean, orders, report]
    if with_legacy:

        @asset
        def legacy(raw):
            return raw

        assets.append(legacy)
    if extra:

        @asset
        def brand_new(report):
            return report

        assets.append(brand_new)
    checks = []
    if with_check:

        @asset_check(asset=orders)
        def orders_not_empty():
            return AssetCheckResult(passed=True)

        checks.append(orders_not_empty)
    return Definitions(assets=assets, asset_checks=checks)


def _diff(base_defs, branch_defs, **kwargs):
    return diff_snapshots(
        build_snapshot(base_defs), build_snapshot(branch_defs), current_time=NOW, **kwargs
    )


def _changed(diff):
    return {c.key: c.kinds for c in diff.changed}


def test_identical_snapshots_have_no_changes_and_cost_nothing():
    diff = _diff(_defs(), _defs())
    assert diff.is_empty
    assert diff.unchanged_count == 5
    assert diff.blast_radius == () and diff.launch_keys == ()
    assert diff.cost.credits_once == 0


def test_a_code_version_change_reports_its_kind_and_its_downstream_in_the_base():
    diff = _diff(_defs(), _defs(raw_version="2"))
    assert _changed(diff) == {"raw": ("code_version",)}
    (raw,) = diff.changed
    assert raw.blast_radius == ("clean", "legacy", "orders", "report")
    assert diff.blast_radius == ("clean", "legacy", "orders", "report")
    # raw and its four descendants, unpartitioned: one credit each.
    assert diff.launch_keys == ("clean", "legacy", "orders", "raw", "report")
    assert diff.cost.credits_once == 5


def test_each_kind_of_change_is_named():
    base = _defs()
    branch = _defs(
        orders_deps=("raw", "legacy"),
        orders_owners=("bo@example.com",),
        report_partitions=StaticPartitionsDefinition(["eu", "us"]),
        clean_condition=AutomationCondition.eager(),
        with_check=True,
        metadata={"table": "clean"},
    )
    changed = _changed(_diff(base, branch))
    assert set(changed["orders"]) == {"dependencies", "owners_tags", "checks"}
    assert changed["report"] == ("partitions_definition",)
    assert set(changed["clean"]) == {"automation_condition", "metadata"}
    assert "raw" not in changed and "legacy" not in changed
    diff = _diff(base, branch)
    assert diff.by_kind["checks"] == 1 and set(diff.by_kind) == set(CHANGE_KINDS)


def test_new_and_removed_assets_and_what_a_removal_breaks_in_the_base():
    diff = _diff(_defs(), _defs(extra=True, with_legacy=False))
    assert [c.key for c in diff.new] == ["brand_new"]
    assert [c.key for c in diff.removed] == ["legacy"]
    assert diff.removed[0].blast_radius == ()
    assert diff.changed == ()
    # Only the new asset is launched; a removed one costs nothing.
    assert diff.launch_keys == ("brand_new",)
    assert diff.changed_keys == ("brand_new",)

    removed_with_children = _diff(_defs(), _defs(with_legacy=False, raw_version="2"))
    assert removed_with_children.blast_radius == ("clean", "orders", "report")


def test_blast_radius_excludes_assets_that_are_themselves_changed():
    diff = _diff(_defs(), _defs(raw_version="2", metadata={"x": 1}))
    assert set(_changed(diff)) == {"raw", "clean"}
    assert diff.blast_radius == ("legacy", "orders", "report")
    clean = next(c for c in diff.changed if c.key == "clean")
    assert clean.blast_radius == ("orders", "report")


def test_partitioned_downstream_costs_one_credit_per_partition():
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    base = _defs(report_partitions=daily)
    diff = _diff(base, _defs(report_partitions=daily, metadata={"x": 1}))
    # clean and orders once each, report for each of its ten daily partitions.
    assert diff.launch_keys == ("clean", "orders", "report")
    assert diff.cost.credits_once == 2 + 10
    assert diff.cost.partitioned_assets == 1 and diff.cost.unpartitioned_assets == 2
    assert diff.cost.credits_for_partition_range(3) == 2 + 3
    assert diff.cost.to_dict()["credits_per_partition"] == 3
    with pytest.raises(AssayError):
        diff.cost.credits_for_partition_range(-1)


def test_locations_are_combined_and_a_move_between_locations_is_no_change():
    @asset
    def a():
        return 1

    @asset
    def b(a):
        return a

    whole = build_snapshot(Definitions(assets=[a, b]))
    # The same two assets split over two locations (b's dependency is external there).
    first = dataclasses.replace(whole, assets=[whole.assets[0]])
    second = dataclasses.replace(whole, assets=[whole.assets[1]])
    diff = diff_snapshots([first, second], whole)
    assert diff.is_empty and diff.unchanged_count == 2


def test_to_dict_is_json_shaped():
    import json

    data = _diff(_defs(), _defs(raw_version="2")).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["changed"][0] == {
        "key": "raw",
        "status": "changed",
        "kinds": ["code_version"],
        "blast_radius": ["clean", "legacy", "orders", "report"],
        "blast_radius_count": 4,
    }
