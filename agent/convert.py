"""Conversion between protocol messages (`assay.api.v1`) and the agent's own objects.

The only module that builds or reads protobuf messages, so the contract meets the code
in one place.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

from agent.branches import Branch
from agent.git_source import is_commit
from agent.launcher import RunRequest
from agent.location_process import LocationLoad, LocationStatus
from agent.outbox import EntryKind, PendingEntry, RunStatus, status_reason
from agent.tick_process import TickOutcome, TickRequest
from assay.api.v1 import agent_pb2 as pb

log = logging.getLogger(__name__)

PROTOCOL_VERSION = 1
MAX_BATCH_BYTES = 2 * 1024 * 1024


def hello(
    *,
    agent_id: str,
    agent_version: str,
    deployments: Sequence[str],
    code_locations: Sequence[str],
    last_assigned_sequence: int,
    serves_branches: bool = False,
) -> pb.AgentMessage:
    return pb.AgentMessage(
        hello=pb.Hello(
            agent_id=agent_id,
            agent_version=agent_version,
            protocol_version=PROTOCOL_VERSION,
            deployments=list(deployments),
            code_locations=list(code_locations),
            last_assigned_sequence=last_assigned_sequence,
            serves_branches=serves_branches,
        )
    )


def heartbeat(sequence: int, running_run_ids: Sequence[str]) -> pb.AgentMessage:
    return pb.AgentMessage(
        heartbeat=pb.Heartbeat(
            sequence=sequence, running_run_ids=list(running_run_ids), timestamp=time.time()
        )
    )


def location_snapshot(deployment: str, load: LocationLoad) -> pb.AgentMessage:
    if load.status is LocationStatus.OK:
        snapshot = pb.LocationSnapshot(
            deployment=deployment,
            location_name=load.location_name,
            status=pb.LOCATION_STATUS_OK,
            snapshot_json=load.snapshot_json,
            snapshot_version=load.snapshot_version,
            snapshot_id=load.snapshot_id,
            sdk_version=load.sdk_version,
        )
    else:
        snapshot = pb.LocationSnapshot(
            deployment=deployment,
            location_name=load.location_name,
            status=pb.LOCATION_STATUS_ERROR,
            error=load.error,
            sdk_version=load.sdk_version,
        )
    return pb.AgentMessage(location_snapshot=snapshot)


def outbox_messages(
    pending: Sequence[PendingEntry], *, batch_size: int, max_batch_bytes: int = MAX_BATCH_BYTES
) -> Iterator[pb.AgentMessage]:
    """Pending outbox entries as messages, in sequence order.

    Consecutive events are packed into EventBatches of at most `batch_size` events and about
    `max_batch_bytes` (under gRPC's default 4 MiB message limit); a status change is its own
    message between them, so the receiver sees everything in sequence order.
    """
    events: list[pb.Event] = []
    size = 0
    for item in pending:
        entry = item.entry
        if entry.kind is EntryKind.EVENT:
            events.append(
                pb.Event(
                    id=entry.id,
                    sequence=item.sequence,
                    run_id=entry.run_id,
                    event_type=entry.type,
                    timestamp=entry.timestamp,
                    payload_json=entry.payload,
                )
            )
            size += len(entry.payload) + 128
            if len(events) >= batch_size or size >= max_batch_bytes:
                yield pb.AgentMessage(event_batch=pb.EventBatch(events=events))
                events, size = [], 0
            continue
        if events:
            yield pb.AgentMessage(event_batch=pb.EventBatch(events=events))
            events, size = [], 0
        yield pb.AgentMessage(
            run_status_change=pb.RunStatusChange(
                id=entry.id,
                sequence=item.sequence,
                run_id=entry.run_id,
                status=pb.RunStatus.Value(f"RUN_STATUS_{RunStatus(entry.type)}"),
                reason=status_reason(entry),
                timestamp=entry.timestamp,
            )
        )
    if events:
        yield pb.AgentMessage(event_batch=pb.EventBatch(events=events))


def branches(message: pb.ServeBranches) -> list[Branch]:
    """The branch deployments to serve; an entry without a deployment or a commit id is
    dropped (and logged)."""
    dropped = [e.deployment for e in message.branches if not (e.deployment and is_commit(e.commit))]
    if dropped:
        log.warning("ignoring branch deployments without a commit id: %s", dropped)
    return [
        Branch(
            deployment=entry.deployment,
            base=entry.base_deployment,
            commit=entry.commit,
            repo=entry.repo,
        )
        for entry in message.branches
        if entry.deployment and is_commit(entry.commit)
    ]


def run_request(message: pb.LaunchRun) -> RunRequest:
    which = message.WhichOneof("partitions")
    return RunRequest(
        run_id=message.run_id,
        deployment=message.deployment,
        location_name=message.location_name,
        asset_selection=message.asset_selection,
        partition_key=message.partition_key if which == "partition_key" else None,
        partition_range=(
            (message.partition_range.start, message.partition_range.end)
            if which == "partition_range"
            else None
        ),
        tags=dict(message.tags),
        snapshot_id=message.snapshot_id,
        dynamic_partitions={
            name: list(keys.keys) for name, keys in message.dynamic_partitions.items()
        },
    )


def notice_level(notice: pb.Notice) -> int:
    """The logging level a Notice is logged at."""
    return {
        pb.NOTICE_SEVERITY_WARNING: logging.WARNING,
        pb.NOTICE_SEVERITY_ERROR: logging.ERROR,
    }.get(notice.severity, logging.INFO)


_TICK_KINDS = {pb.TICK_KIND_SENSOR: "sensor", pb.TICK_KIND_SCHEDULE: "schedule"}


def tick_request(message: pb.EvaluateTick) -> TickRequest:
    """`EvaluateTick` -> `TickRequest`; an unknown kind raises ValueError (answered as an error)."""
    kind = _TICK_KINDS.get(message.kind)
    if kind is None:
        raise ValueError(f"EvaluateTick {message.request_id}: unknown tick kind {message.kind}")
    return TickRequest(
        request_id=message.request_id,
        deployment=message.deployment,
        location_name=message.location_name,
        kind=kind,
        name=message.name,
        evaluation_time=datetime.fromtimestamp(message.evaluation_time, tz=UTC),
        last_evaluation_time=(
            datetime.fromtimestamp(message.last_evaluation_time, tz=UTC)
            if message.last_evaluation_time
            else None
        ),
        cursor=message.cursor if message.has_cursor else None,
        timeout_seconds=float(message.timeout_seconds or 60),
    )


def tick_result(outcome: TickOutcome) -> pb.AgentMessage:
    return pb.AgentMessage(
        tick_result=pb.TickResult(
            request_id=outcome.request_id,
            error=outcome.error,
            run_requests=[
                pb.TickRunRequest(
                    run_key=r.get("run_key") or "",
                    asset_selection=r.get("asset_selection") or "",
                    partition_key=r.get("partition_key") or "",
                    tags=dict(r.get("tags") or {}),
                )
                for r in outcome.run_requests
            ],
            skip_reason=outcome.skip_reason,
            has_cursor=outcome.cursor is not None,
            cursor=outcome.cursor or "",
            dynamic_partitions=[
                pb.DynamicPartitionsChange(
                    partitions_def_name=d["name"],
                    add_keys=list(d.get("add") or ()),
                    delete_keys=list(d.get("delete") or ()),
                )
                for d in outcome.dynamic_partitions
            ],
        )
    )
