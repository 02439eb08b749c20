"""The cursor survives JSON, rejects garbage, and forgets assets whose shape changed."""

from __future__ import annotations

import pytest

from assay import Definitions, asset
from assay.automation import AutomationCondition as AC
from assay.automation import (
    AutomationCursor,
    AutomationError,
    InvalidAutomationCursor,
    evaluate_automation_conditions,
)

from .helpers import DAILY, T0, World


def chain() -> Definitions:
    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def raw(): ...

    @asset(partitions_def=DAILY, automation_condition=AC.eager())
    def clean(raw): ...

    return Definitions(assets=[raw, clean])


def test_cursor_round_trips_through_json_and_ticks_the_same():
    world = World(chain())
    world.tick()
    text = world.cursor.to_json()
    again = AutomationCursor.from_json(text)
    assert again.to_json() == text
    world.run_requested()
    from_object = world.tick()
    from_json = evaluate_automation_conditions(
        defs=world.defs, instance=world.status, evaluation_time=world.now, cursor=text
    )
    assert from_object.requested == from_json.requested
    assert from_object.cursor.to_json() == from_json.cursor.to_json()


def test_cursor_stores_subsets_compactly():
    world = World(chain())
    world.tick()
    assert len(world.cursor.to_json()) < 2_000


@pytest.mark.parametrize("text", ["not json", '{"version": 99}', "[]"])
def test_unreadable_cursor_is_rejected_with_a_clear_error(text: str):
    with pytest.raises(InvalidAutomationCursor):
        AutomationCursor.from_json(text)


def test_an_asset_that_changed_partitioning_starts_afresh():
    world = World(chain())
    world.tick()
    text = world.cursor.to_json()

    @asset(automation_condition=AC.eager())
    def raw(): ...

    @asset(automation_condition=AC.eager())
    def clean(raw): ...

    world.defs = Definitions(assets=[raw, clean])
    world.cursor = AutomationCursor.from_json(text)
    world.tick()
    assert world.requested("raw") == [None]  # newly missing again, under the new shape


def test_evaluation_time_before_the_previous_tick_is_rejected():
    world = World(chain())
    world.tick()
    with pytest.raises(AutomationError, match="before the previous tick"):
        evaluate_automation_conditions(
            defs=world.defs,
            instance=world.status,
            evaluation_time=T0.replace(hour=0),
            cursor=world.cursor,
        )


def test_a_non_condition_automation_condition_is_named_in_the_error():
    @asset(automation_condition="eager")
    def table(): ...

    with pytest.raises(AutomationError, match=r"'table'.*not an AutomationCondition"):
        evaluate_automation_conditions(
            defs=Definitions(assets=[table]), instance=World(chain()).status, evaluation_time=T0
        )
