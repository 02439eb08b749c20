"""The outbox keeps every entry until acknowledged and never hands a sequence number out twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from agent.outbox import EntryKind, Outbox, OutboxEntry, OutboxError

ROOT = Path(__file__).resolve().parents[2]


def event(number: int, run_id: str = "run-1") -> OutboxEntry:
    return OutboxEntry(
        id=f"event-{number}",
        kind=EntryKind.EVENT,
        run_id=run_id,
        type="asset_materialization",
        timestamp=1_700_000_000.0 + number,
        payload=json.dumps({"number": number}).encode(),
    )


def test_appended_entries_get_consecutive_sequences_starting_at_one(tmp_path: Path) -> None:
    with Outbox(tmp_path) as outbox:
        assert outbox.append([event(1), event(2)]) == [1, 2]
        assert outbox.append([event(3)]) == [3]
        assert outbox.last_sequence == 3


def test_pending_returns_entries_in_sequence_order_in_pages(tmp_path: Path) -> None:
    with Outbox(tmp_path) as outbox:
        outbox.append([event(n) for n in range(1, 8)])
        first = outbox.pending(after_seq=0, limit=3)
        second = outbox.pending(after_seq=first[-1].sequence, limit=3)
        assert [p.sequence for p in first] == [1, 2, 3]
        assert [p.sequence for p in second] == [4, 5, 6]
        assert second[0].entry == event(4)


def test_ack_deletes_only_what_was_acknowledged(tmp_path: Path) -> None:
    with Outbox(tmp_path) as outbox:
        outbox.append([event(n) for n in range(1, 6)])
        assert outbox.ack(3) == 3
        assert [p.sequence for p in outbox.pending()] == [4, 5]
        assert outbox.acked_sequence == 3
        assert outbox.ack(2) == 0  # a late, lower ack changes nothing
        assert outbox.acked_sequence == 3


def test_sequences_are_not_reused_after_everything_was_acknowledged_and_reopened(
    tmp_path: Path,
) -> None:
    with Outbox(tmp_path) as outbox:
        outbox.append([event(1), event(2)])
        outbox.ack(2)
        agent_id = outbox.agent_id
    with Outbox(tmp_path) as reopened:
        assert reopened.pending() == []
        assert reopened.append([event(3)]) == [3]
        assert reopened.agent_id == agent_id  # sequences are scoped to this identity


def test_an_ack_beyond_anything_assigned_is_refused_and_deletes_nothing(tmp_path: Path) -> None:
    with Outbox(tmp_path) as outbox:
        outbox.append([event(1)])
        with pytest.raises(OutboxError, match="only 1 were ever assigned"):
            outbox.ack(5)
        assert [p.sequence for p in outbox.pending()] == [1]


def test_a_failed_append_writes_nothing_and_uses_no_sequence(tmp_path: Path) -> None:
    bad = OutboxEntry(
        id="x",
        kind=EntryKind.EVENT,
        run_id=None,  # type: ignore[arg-type]
        type="t",
        timestamp=0.0,
        payload=b"{}",
    )
    with Outbox(tmp_path) as outbox:
        outbox.append([event(1)])
        with pytest.raises(sqlite3.IntegrityError):
            outbox.append([event(2), bad])
        assert [p.sequence for p in outbox.pending()] == [1]
        assert outbox.append([event(3)]) == [2]


def test_run_status_changes_share_the_event_sequence(tmp_path: Path) -> None:
    change = OutboxEntry(
        id="status-1",
        kind=EntryKind.RUN_STATUS_CHANGE,
        run_id="run-1",
        type="failed",
        timestamp=0.0,
        payload=b'{"reason": "run process exited with signal 9"}',
    )
    with Outbox(tmp_path) as outbox:
        outbox.append([event(1)])
        assert outbox.append([change]) == [2]
        assert outbox.pending()[1].entry.kind is EntryKind.RUN_STATUS_CHANGE


def test_the_state_directory_is_private_to_the_agent_user(tmp_path: Path) -> None:
    with Outbox(tmp_path / "state"):
        pass
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0


# The writer appends batches forever, printing each committed batch's last sequence only
# after `append` returned; the test kills it with SIGKILL somewhere in the middle.
WRITER = textwrap.dedent(
    """
    import json, sys
    from agent.outbox import EntryKind, Outbox, OutboxEntry

    outbox = Outbox(sys.argv[1])
    batch = 0
    while True:
        batch += 1
        entries = [
            OutboxEntry(id=f"b{batch}-{i}", kind=EntryKind.EVENT, run_id="run-1",
                        type="log", timestamp=0.0, payload=json.dumps({"i": i}).encode())
            for i in range(200)
        ]
        sequences = outbox.append(entries)
        print(sequences[-1], flush=True)
    """
)


def test_nothing_committed_is_lost_when_the_agent_is_killed_mid_append(tmp_path: Path) -> None:
    state = tmp_path / "state"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(state)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    committed = 0
    try:
        for _ in range(20):  # let it commit 20 batches, then kill it while it writes more
            line = writer.stdout.readline()
            assert line, "the writer exited early"
            committed = int(line)
    finally:
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
    assert writer.returncode == -signal.SIGKILL

    with Outbox(state) as outbox:
        stored = [p.sequence for p in outbox.pending(limit=1_000_000)]
        # Everything reported committed is there, gap-free from 1; any batch in flight at
        # the kill is either entirely there or entirely absent.
        assert stored == list(range(1, len(stored) + 1))
        assert len(stored) >= committed
        assert len(stored) % 200 == 0
        assert outbox.last_sequence == len(stored)
        assert all(
            json.loads(p.entry.payload) == {"i": (p.sequence - 1) % 200}
            for p in outbox.pending(limit=1_000_000)
        )
        # ... and numbering continues after the last one, never reusing any.
        assert outbox.append([event(1)]) == [len(stored) + 1]
