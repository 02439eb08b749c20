"""What one event does to the status of the asset partition it names.

The local instance (SQLite) and the control plane's catalog (PostgreSQL) both keep a
per-partition status projection of the event log. They store it differently, but the rule
is one: this module says it, and both stores apply it.
"""

from __future__ import annotations

from enum import StrEnum

from assay.execution.events import EventType


class StatusEffect(StrEnum):
    """An event's effect on its asset partition's status."""

    MATERIALIZED = "materialized"  # the data is there (materialized, or observed at source)
    FAILED = "failed"  # its step failed: failed until materialized again
    IN_PROGRESS = "in_progress"  # its step started
    PROGRESS_ENDED = "progress_ended"  # its step ended without failing: no longer in progress
    CHECK_EVALUATED = "check_evaluated"  # a check result; the partition's own status holds
    RUN_STARTED = "run_started"  # not about one partition: the run began
    RUN_ENDED = "run_ended"  # every partition the run left in progress is no longer
    NONE = "none"  # logs and the like


_EFFECTS: dict[EventType, StatusEffect] = {
    EventType.ASSET_MATERIALIZATION: StatusEffect.MATERIALIZED,
    EventType.ASSET_OBSERVATION: StatusEffect.MATERIALIZED,
    EventType.STEP_FAILED: StatusEffect.FAILED,
    EventType.STEP_STARTED: StatusEffect.IN_PROGRESS,
    EventType.STEP_SUCCEEDED: StatusEffect.PROGRESS_ENDED,
    EventType.STEP_SKIPPED: StatusEffect.PROGRESS_ENDED,
    EventType.ASSET_CHECK_EVALUATION: StatusEffect.CHECK_EVALUATED,
    EventType.RUN_STARTED: StatusEffect.RUN_STARTED,
    EventType.RUN_SUCCEEDED: StatusEffect.RUN_ENDED,
    EventType.RUN_FAILED: StatusEffect.RUN_ENDED,
    EventType.LOG: StatusEffect.NONE,
}


def status_effect(event_type: EventType | str) -> StatusEffect:
    """The effect of an event of this type; an unknown type (a newer agent's) has none."""
    try:
        return _EFFECTS[EventType(event_type)]
    except ValueError:
        return StatusEffect.NONE


def event_types_with(*effects: StatusEffect) -> tuple[EventType, ...]:
    """The event types having any of these effects, for filtering stored events."""
    return tuple(kind for kind, effect in _EFFECTS.items() if effect in effects)


# A partition leaves "in progress" on any of these: the step's ends and the data itself.
ENDS_PROGRESS = (StatusEffect.MATERIALIZED, StatusEffect.FAILED, StatusEffect.PROGRESS_ENDED)
