"""The asset page's "why it did or did not run" lines come from the SDK's explanation tree."""

from assay import AutomationCondition
from control_plane.console.asset_pages import _explain


def test_explanation_lines_follow_the_sdk_tree():
    tree = {
        "condition": AutomationCondition.eager().label,
        "true": 0,
        "candidates": 1,
        "evaluated": True,
        "children": [
            {"condition": "in_latest_time_window()", "true": 1, "candidates": 1, "evaluated": True},
            {"condition": "~in_progress()", "true": 0, "candidates": 0, "evaluated": False},
        ],
    }
    lines = _explain(tree)
    assert [(line["depth"], line["label"], line["true"]) for line in lines] == [
        (0, "eager()", False),
        (1, "in_latest_time_window()", True),
        (1, "~in_progress()", False),
    ]
    assert lines[0]["detail"] == "0 of 1"
    assert lines[2]["detail"] == "not needed"
