"""The one rule for what an event does to its asset partition's status."""

from assay.execution.events import (
    ENDS_PROGRESS,
    EventType,
    StatusEffect,
    event_types_with,
    status_effect,
)


def test_every_event_type_has_an_effect() -> None:
    # A new event type must be given its effect here, or both stores would ignore it.
    assert all(status_effect(kind) in StatusEffect for kind in EventType)


def test_data_events_settle_the_partition_and_step_ends_clear_progress() -> None:
    assert status_effect("asset_materialization") is StatusEffect.MATERIALIZED
    assert status_effect(EventType.ASSET_OBSERVATION) is StatusEffect.MATERIALIZED
    assert status_effect(EventType.STEP_FAILED) is StatusEffect.FAILED
    assert status_effect(EventType.STEP_STARTED) is StatusEffect.IN_PROGRESS
    assert set(event_types_with(*ENDS_PROGRESS)) == {
        EventType.ASSET_MATERIALIZATION,
        EventType.ASSET_OBSERVATION,
        EventType.STEP_SUCCEEDED,
        EventType.STEP_SKIPPED,
        EventType.STEP_FAILED,
    }


def test_unknown_event_types_from_newer_agents_change_nothing() -> None:
    assert status_effect("asset_something_new") is StatusEffect.NONE
