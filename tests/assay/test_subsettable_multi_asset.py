"""`multi_asset(can_subset=True)`: only selected keys run, and one asset can fail alone."""

from __future__ import annotations

import pytest

from assay import (
    AssetFailure,
    AssetKey,
    AssetSpec,
    Definitions,
    MaterializeResult,
    asset,
    materialize,
    multi_asset,
)

RAN: list[list[str]] = []


@multi_asset(
    specs=[AssetSpec("a"), AssetSpec("b", deps=["a"]), AssetSpec("c"), AssetSpec("d", deps=["c"])],
    can_subset=True,
)
def warehouse(context):
    names = [k.to_user_string() for k in context.asset_keys]
    RAN.append(names)
    for name in names:
        if name == "c":
            yield AssetFailure(asset_key="c", message="c broke")
        elif name == "d":
            yield AssetFailure(asset_key="d", message="c failed", skipped=True)
        else:
            yield MaterializeResult(asset_key=name, metadata={"n": 1})


@asset(deps=["b"])
def reads_b() -> int:
    return 1


@asset(deps=["d"])
def reads_d() -> int:
    return 1


@multi_asset(specs=[AssetSpec("x"), AssetSpec("y")])
def not_subsettable():
    yield AssetFailure(asset_key="x", message="no")
    yield MaterializeResult(asset_key="y")


DEFS = Definitions(assets=[warehouse, reads_b, reads_d])


@pytest.fixture(autouse=True)
def _clear():
    RAN.clear()


def test_a_selection_runs_only_the_selected_keys_of_a_subsettable_multi_asset():
    result = materialize(DEFS, selection="a, b")
    assert result.success
    assert RAN == [["a", "b"]]
    assert result.materialized_keys == [AssetKey("a"), AssetKey("b")]


@pytest.mark.parametrize("executor", ["in_process", "multiprocess"])
def test_a_failed_asset_fails_alone_and_only_its_dependents_are_skipped(executor, tmp_path):
    result = materialize(DEFS, executor=executor)
    assert not result.success
    assert [e.asset_key for e in result.get_step_failure_events()] == [AssetKey("c")]
    skipped = {(e.asset_key, e.step_key) for e in result.get_step_skipped_events()}
    assert (AssetKey("d"), "warehouse") in skipped
    assert (AssetKey("reads_d"), "reads_d") in skipped
    assert set(result.materialized_keys) == {AssetKey("a"), AssetKey("b"), AssetKey("reads_b")}


def test_only_a_subsettable_multi_asset_may_fail_one_of_its_assets():
    result = materialize([not_subsettable])
    assert not result.success
    [failure] = result.get_step_failure_events()
    assert "can_subset=True" in failure.message
