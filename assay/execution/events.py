"""The typed event stream of a run: facts, in order, each with a stable id, and what each
kind of event does to the status of the asset partition it names.

The same model is streamed by the agent to the control plane, so every event
round-trips through `to_dict` / `from_dict` as plain JSON. The local instance (SQLite) and
the control plane's catalog (PostgreSQL) both keep a per-partition status projection of
the event log; they store it differently, but the rule is one, `status_effect`, beside
the event types, so a new type is given its effect where it is declared.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from assay.definitions.asset_key import AssetKey


class EventType(StrEnum):
    RUN_STARTED = "run_started"
    RUN_SUCCEEDED = "run_succeeded"
    RUN_FAILED = "run_failed"
    STEP_STARTED = "step_started"
    STEP_SUCCEEDED = "step_succeeded"
    STEP_FAILED = "step_failed"
    STEP_SKIPPED = "step_skipped"
    ASSET_MATERIALIZATION = "asset_materialization"
    ASSET_OBSERVATION = "asset_observation"
    ASSET_CHECK_EVALUATION = "asset_check_evaluation"
    LOG = "log"


_new_id = uuid.uuid4


@dataclass(slots=True)
class Event:
    """One fact about a run. `payload` holds only JSON-serialisable values."""

    type: EventType
    run_id: str
    asset_key: AssetKey | None = None
    step_key: str | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    partition: str | None = None
    timestamp: float = field(default_factory=time.time)
    id: str = field(default_factory=lambda: _new_id().hex)

    @property
    def is_failure(self) -> bool:
        return self.type in (EventType.STEP_FAILED, EventType.RUN_FAILED)

    @property
    def message(self) -> str:
        return str(self.payload.get("message", ""))

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type.value,
            "run_id": self.run_id,
            "timestamp": self.timestamp,
            "asset_key": self.asset_key.to_user_string() if self.asset_key else None,
            "step_key": self.step_key,
            "partition": self.partition,
            "payload": self.payload,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Event:
        key = data.get("asset_key")
        return cls(
            type=EventType(data["type"]),
            run_id=data["run_id"],
            asset_key=AssetKey.from_user_string(key) if key else None,
            step_key=data.get("step_key"),
            payload=dict(data.get("payload") or {}),
            partition=data.get("partition"),
            timestamp=float(data["timestamp"]),
            id=data["id"],
        )

    def __repr__(self) -> str:
        where = self.asset_key or self.step_key or ""
        return f"<Event {self.type.value} {where}>"


# -- what an event does to status ----------------------------------------------------------


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
