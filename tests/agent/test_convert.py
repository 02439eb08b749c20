"""Outbox entries become protocol messages in sequence order, batched."""

from __future__ import annotations

from agent import convert
from agent.outbox import PendingEntry, RunStatus, event_entry, status_entry
from assay.api.v1 import agent_pb2 as pb


def pending(entries: list) -> list[PendingEntry]:
    return [PendingEntry(sequence=i, entry=e) for i, e in enumerate(entries, start=1)]


def an_event(n: int) -> object:
    return event_entry(
        {"id": f"e{n}", "type": "log", "run_id": "r", "timestamp": 1.0, "payload": {}}
    )


def test_events_are_batched_and_status_changes_keep_their_place_in_sequence() -> None:
    succeeded = status_entry("r", RunStatus.SUCCEEDED, "ok")
    entries = pending([an_event(1), an_event(2), an_event(3), succeeded, an_event(4)])
    messages = list(convert.outbox_messages(entries, batch_size=2))

    kinds = [m.WhichOneof("message") for m in messages]
    assert kinds == ["event_batch", "event_batch", "run_status_change", "event_batch"]
    assert [e.sequence for e in messages[0].event_batch.events] == [1, 2]
    assert [e.sequence for e in messages[1].event_batch.events] == [3]
    change = messages[2].run_status_change
    assert (change.sequence, change.status, change.reason) == (4, pb.RUN_STATUS_SUCCEEDED, "ok")
    assert messages[3].event_batch.events[0].id == "e4"


def test_launch_run_becomes_a_run_request() -> None:
    request = convert.run_request(
        pb.LaunchRun(
            run_id="r1",
            deployment="prod",
            location_name="analytics",
            asset_selection="group:ml",
            partition_key="2026-01-01",
            tags={"team": "ml"},
        )
    )
    assert request.partition_key == "2026-01-01"
    assert request.partition_range is None
    assert dict(request.tags) == {"team": "ml"}
