"""The explanation tree: which sub-condition was true for how many partitions."""

from __future__ import annotations

import json

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC

from .helpers import DAILY, World, key


def build() -> Definitions:
    @asset(partitions_def=DAILY)
    def up(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def down(up): ...

    return Definitions(assets=[up, down])


def test_explanation_counts_each_sub_condition_and_names_partitions():
    world = World(build())
    result = world.tick()
    tree = result.evaluations[key("down")].explanation.to_dict()
    assert tree["condition"] == "eager()"
    assert (tree["true"], tree["candidates"]) == (0, 9)
    latest, trigger, no_missing_deps, *_ = tree["children"]
    assert (latest["condition"], latest["true"], latest["partitions"]) == (
        "in_latest_time_window()",
        1,
        ["2024-01-09"],
    )
    assert trigger["condition"] == "(newly_missing() | any_deps_updated()).since_last_handled()"
    assert trigger["true"] == 1
    assert no_missing_deps["condition"] == "~any_deps_missing()"
    assert no_missing_deps["true"] == 0
    assert no_missing_deps["children"][0]["partitions"] == ["2024-01-09"]
    # Sub-conditions after a false one were not needed, and say so.
    assert tree["children"][3] == {
        "condition": "~any_deps_in_progress()",
        "true": 0,
        "candidates": 0,
        "evaluated": False,
    }
    json.dumps(result.to_dict())  # the whole result is JSON for a UI


def test_rendered_explanation_is_a_readable_tree():
    world = World(build())
    world.tick()
    lines = world.last.evaluations[key("down")].explanation.render()
    assert lines[0] == "[ ] eager() (0 of 9)"
    assert "    [x] in_latest_time_window() (1 of 9)" in lines
    assert "        [x] any_deps_missing() (1 of 1)" in lines
    assert "    [-] ~in_progress() (not needed)" in lines


def test_assets_not_re_evaluated_keep_their_previous_explanation():
    world = World(build())
    world.tick()
    world.tick()
    world.tick()
    evaluation = world.last.evaluations[key("down")]
    assert not evaluation.evaluated
    assert evaluation.explanation is not None
    assert evaluation.num_requested == 0
