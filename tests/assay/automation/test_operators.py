"""`&`, `|`, `~`, `.since()`, `.newly_true()` and labels."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC
from assay.automation import InvalidAutomationCondition

from .helpers import DAILY, World, key


def one_asset(condition: AC) -> Definitions:
    @asset(partitions_def=DAILY, automation_condition=condition)
    def table(): ...

    return Definitions(assets=[table])


def test_and_is_the_intersection_and_or_the_union():
    world = World(one_asset(AC.missing() & AC.in_latest_time_window()))
    world.materialize("table", "2024-01-01")
    world.tick()
    assert world.requested("table") == ["2024-01-09"]

    world = World(one_asset(AC.execution_failed() | AC.in_progress()))
    world.fail("table", "2024-01-02")
    world.start("table", "2024-01-05")
    world.tick()
    assert world.requested("table") == ["2024-01-02", "2024-01-05"]


def test_not_is_the_complement_within_the_candidates():
    world = World(one_asset(~AC.missing()))
    world.materialize("table", "2024-01-01", "2024-01-03")
    world.tick()
    assert world.requested("table") == ["2024-01-01", "2024-01-03"]


def test_and_only_evaluates_the_right_side_where_the_left_side_held():
    world = World(one_asset(AC.in_latest_time_window() & AC.missing()))
    world.tick()
    explanation = world.last.evaluations[key("table")].explanation
    assert explanation.children[0].num_true == 1
    assert explanation.children[1].num_candidates == 1  # not 9


def test_since_stays_true_after_the_trigger_until_the_reset():
    condition = AC.execution_failed().newly_true().since(AC.newly_updated())
    world = World(one_asset(condition))
    world.fail("table", "2024-01-04")
    world.tick()
    assert world.requested("table") == ["2024-01-04"]
    world.tick()  # the failure is no longer new, but it has not been reset
    assert world.requested("table") == ["2024-01-04"]
    world.materialize("table", "2024-01-04")
    world.tick()
    assert world.requested("table") == []


def test_since_reset_wins_when_trigger_and_reset_are_true_in_the_same_tick():
    world = World(one_asset(AC.newly_updated().since(AC.newly_updated())))
    world.tick()
    world.materialize("table", "2024-01-02")
    world.tick()
    assert world.requested("table") == []


def test_newly_true_is_true_only_on_the_first_tick_it_holds():
    world = World(one_asset(AC.in_progress().newly_true()))
    world.tick()
    world.start("table", "2024-01-07")
    world.tick()
    assert world.requested("table") == ["2024-01-07"]
    world.tick()
    assert world.requested("table") == []


def test_conditions_describe_themselves_and_labels_replace_the_text():
    condition = (AC.missing() | AC.any_deps_updated()) & ~AC.in_progress()
    assert condition.describe() == "(missing() | any_deps_updated()) & ~in_progress()"
    assert condition.with_label("fill gaps").label == "fill gaps"
    assert AC.eager().label == "eager()"


def test_combining_with_something_that_is_not_a_condition_is_rejected():
    with pytest.raises(InvalidAutomationCondition, match="bool"):
        AC.missing() & True  # type: ignore[operator]


def test_labelling_returns_a_copy_and_leaves_the_original_alone():
    missing = AC.missing()
    labelled = missing.with_label("gap")
    assert (missing.label, labelled.label) == ("missing()", "gap")
    assert (missing & AC.in_progress()).describe() == "missing() & in_progress()"
