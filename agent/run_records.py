"""What the agent records about a run in its outbox: SDK events and run status changes.

Both kinds share the outbox's one per-agent sequence. Payloads are the JSON that crosses
the network, so events are size-capped here, before they are stored.
"""

from __future__ import annotations

import json
import time
import uuid
from enum import StrEnum
from typing import Any

from agent.outbox import EntryKind, OutboxEntry
from agent.payload_cap import cap_event_dict


class RunStatus(StrEnum):
    """A run's status as the agent sees it (the protocol's `RunStatus`, by name)."""

    STARTING = "STARTING"
    STARTED = "STARTED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELING = "CANCELING"
    CANCELED = "CANCELED"

    @property
    def is_terminal(self) -> bool:
        return self in (RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.CANCELED)


def event_entry(event: dict[str, Any]) -> OutboxEntry:
    """An outbox entry for one `Event.to_dict()`; oversized metadata is truncated and marked."""
    capped = cap_event_dict(event)
    return OutboxEntry(
        id=str(capped["id"]),
        kind=EntryKind.EVENT,
        run_id=str(capped["run_id"]),
        type=str(capped["type"]),
        timestamp=float(capped["timestamp"]),
        payload=_json(capped),
    )


def status_entry(run_id: str, status: RunStatus, reason: str = "") -> OutboxEntry:
    """An outbox entry for a run status change, with a fresh idempotency id."""
    return OutboxEntry(
        id=uuid.uuid4().hex,
        kind=EntryKind.RUN_STATUS_CHANGE,
        run_id=run_id,
        type=str(status),
        timestamp=time.time(),
        payload=_json({"reason": reason}),
    )


def status_reason(entry: OutboxEntry) -> str:
    return str(json.loads(entry.payload or b"{}").get("reason", ""))


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
