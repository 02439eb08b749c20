"""The one place protobuf messages become domain objects and back (``assay.api.v1``).

Everything the servicer receives is validated here, so a malformed message is rejected
before any service runs (nothing is written).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

from assay.api.v1 import agent_pb2 as pb
from control_plane.agents.errors import InvalidAgentMessage, UnsupportedProtocol
from control_plane.runs.ingest import IncomingEvent, IncomingStatusChange
from control_plane.runs.models import MAX_RUN_KEY, Run, RunStatus
from control_plane.tenancy.validation import LOCATION_RULE, SLUG_RULE

if TYPE_CHECKING:
    from control_plane.agents.branch_serving import ServedBranch
    from control_plane.agents.models import TickRequest

PROTOCOL_VERSION = 1
MAX_ID = 64
MAX_NAME = 100

_RUN_STATUSES: dict[int, RunStatus] = {
    pb.RUN_STATUS_STARTING: RunStatus.STARTING,
    pb.RUN_STATUS_STARTED: RunStatus.STARTED,
    pb.RUN_STATUS_SUCCEEDED: RunStatus.SUCCESS,
    pb.RUN_STATUS_FAILED: RunStatus.FAILURE,
    pb.RUN_STATUS_CANCELING: RunStatus.CANCELING,
    pb.RUN_STATUS_CANCELED: RunStatus.CANCELED,
}


@dataclass(frozen=True)
class Hello:
    agent_id: str
    agent_version: str
    deployments: list[str]
    code_locations: list[str]
    last_assigned_sequence: int
    serves_branches: bool = False


@dataclass(frozen=True)
class Snapshot:
    deployment: str
    location_name: str
    ok: bool
    snapshot_json: bytes
    snapshot_id: str
    snapshot_version: int
    error: str
    sdk_version: str


def _names(values, field: str, rule: RegexValidator) -> list[str]:
    names = list(values)
    if not names:
        raise InvalidAgentMessage(f"hello.{field} must not be empty")
    if len(set(names)) != len(names):
        raise InvalidAgentMessage(f"hello.{field} has duplicates")
    for name in names:
        if not name or len(name) > MAX_NAME:
            raise InvalidAgentMessage(f"hello.{field}: names are 1-{MAX_NAME} characters")
        try:
            rule(name)
        except ValidationError as error:
            raise InvalidAgentMessage(f"hello.{field}: {name!r}: {error.messages[0]}") from None
    return names


def hello_from_proto(message: pb.AgentMessage) -> Hello:
    if message.WhichOneof("message") != "hello":
        raise InvalidAgentMessage("the first message of a stream must be hello")
    hello = message.hello
    if hello.protocol_version != PROTOCOL_VERSION:
        raise UnsupportedProtocol(
            f"protocol version {hello.protocol_version} is not supported "
            f"(this control plane speaks {PROTOCOL_VERSION})"
        )
    if not hello.agent_id or len(hello.agent_id) > MAX_ID:
        raise InvalidAgentMessage(f"hello.agent_id must be 1-{MAX_ID} characters")
    return Hello(
        agent_id=hello.agent_id,
        agent_version=hello.agent_version[:40],
        deployments=_names(hello.deployments, "deployments", SLUG_RULE),
        code_locations=_names(hello.code_locations, "code_locations", LOCATION_RULE),
        last_assigned_sequence=hello.last_assigned_sequence,
        serves_branches=hello.serves_branches,
    )


def snapshot_from_proto(message: pb.LocationSnapshot) -> Snapshot:
    ok = message.status == pb.LOCATION_STATUS_OK
    if ok and (not message.snapshot_json or not message.snapshot_id):
        raise InvalidAgentMessage("an OK location snapshot needs snapshot_json and snapshot_id")
    return Snapshot(
        deployment=message.deployment,
        location_name=message.location_name,
        ok=ok,
        snapshot_json=bytes(message.snapshot_json),
        snapshot_id=message.snapshot_id,
        snapshot_version=message.snapshot_version,
        error=message.error or ("" if ok else "the location failed to load"),
        sdk_version=message.sdk_version,
    )


def events_from_proto(message: pb.EventBatch) -> list[IncomingEvent]:
    """The batch's events; the whole batch is rejected when any event is malformed."""
    if not message.events:
        raise InvalidAgentMessage("an event batch needs at least one event")
    events: list[IncomingEvent] = []
    previous = 0
    for event in message.events:
        where = f"event sequence {event.sequence}"
        if not event.id or len(event.id) > MAX_ID:
            raise InvalidAgentMessage(f"{where}: id must be 1-{MAX_ID} characters")
        if event.sequence <= previous:
            raise InvalidAgentMessage(f"{where}: sequences must be > 0 and increasing")
        previous = event.sequence
        if not event.run_id or not event.event_type:
            raise InvalidAgentMessage(f"{where}: run_id and event_type are required")
        try:
            text = event.payload_json.decode() if event.payload_json else "{}"
            payload = json.loads(text)
        except (ValueError, UnicodeDecodeError):
            raise InvalidAgentMessage(f"{where}: payload_json is not JSON") from None
        if not isinstance(payload, dict):
            raise InvalidAgentMessage(f"{where}: payload_json must be a JSON object")
        events.append(
            IncomingEvent(
                event_id=event.id,
                sequence=event.sequence,
                run_id=event.run_id,
                event_type=event.event_type,
                timestamp=event.timestamp,
                payload=payload,
                payload_json=text,
            )
        )
    return events


def status_change_from_proto(message: pb.RunStatusChange) -> IncomingStatusChange:
    if not message.id or len(message.id) > MAX_ID or message.sequence == 0 or not message.run_id:
        raise InvalidAgentMessage("a run status change needs an id, a sequence and a run_id")
    return IncomingStatusChange(
        change_id=message.id,
        sequence=message.sequence,
        run_id=message.run_id,
        status=_RUN_STATUSES.get(message.status),
        reason=message.reason,
        timestamp=message.timestamp,
    )


def welcome(*, session_id: str, heartbeat_interval: int, acked_sequence: int) -> pb.ControlMessage:
    return pb.ControlMessage(
        welcome=pb.Welcome(
            session_id=session_id,
            heartbeat_interval_seconds=heartbeat_interval,
            acked_sequence=acked_sequence,
        )
    )


def ack(acked_sequence: int) -> pb.ControlMessage:
    return pb.ControlMessage(ack=pb.Ack(acked_sequence=acked_sequence))


def notice(*, code: str, message: str, related_sequence: int = 0, error: bool = True):
    severity = pb.NOTICE_SEVERITY_ERROR if error else pb.NOTICE_SEVERITY_WARNING
    return pb.ControlMessage(
        notice=pb.Notice(
            severity=severity, code=code, message=message, related_sequence=related_sequence
        )
    )


def launch_run(
    run: Run,
    *,
    deployment_name: str,
    location_name: str,
    dynamic_partitions: Mapping[str, list[str]] | None = None,
) -> pb.ControlMessage:
    launch = pb.LaunchRun(
        run_id=str(run.id),
        deployment=deployment_name,
        location_name=location_name,
        asset_selection=run.selection,
        tags=run.tags,
        snapshot_id=run.snapshot_id,
        dynamic_partitions={
            name: pb.DynamicPartitionKeys(keys=keys)
            for name, keys in (dynamic_partitions or {}).items()
        },
    )
    if run.partition_key:
        launch.partition_key = run.partition_key
    elif run.partition_range_start:
        launch.partition_range.CopyFrom(
            pb.PartitionRange(start=run.partition_range_start, end=run.partition_range_end)
        )
    return pb.ControlMessage(launch_run=launch)


def reload_location(*, deployment_name: str, location_name: str) -> pb.ControlMessage:
    return pb.ControlMessage(
        reload_location=pb.ReloadLocation(deployment=deployment_name, location_name=location_name)
    )


def serve_branches(branches: Iterable[ServedBranch]) -> pb.ControlMessage:
    return pb.ControlMessage(
        serve_branches=pb.ServeBranches(
            branches=[
                pb.BranchToServe(
                    deployment=b.deployment_name,
                    base_deployment=b.base_name,
                    commit=b.commit,
                    repo=b.repo,
                )
                for b in branches
            ]
        )
    )


def terminate_run(run: Run) -> pb.ControlMessage:
    return pb.ControlMessage(terminate_run=pb.TerminateRun(run_id=str(run.id), reason=run.reason))


MAX_TICK_RUN_REQUESTS = 1000
MAX_TICK_TEXT = 64 * 1024
_TICK_KINDS = {"sensor": pb.TICK_KIND_SENSOR, "schedule": pb.TICK_KIND_SCHEDULE}


@dataclass(frozen=True)
class TickRunRequest:
    run_key: str
    asset_selection: str
    partition_key: str
    tags: dict[str, str]


@dataclass(frozen=True)
class DynamicPartitionsChange:
    partitions_def_name: str
    add_keys: list[str]
    delete_keys: list[str]


@dataclass(frozen=True)
class TickAnswer:
    """A ``TickResult``, validated."""

    request_id: str
    error: str
    run_requests: list[TickRunRequest]
    skip_reason: str
    cursor: str | None
    dynamic_partitions: list[DynamicPartitionsChange]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TickAnswer:
        return cls(
            request_id=data["request_id"],
            error=data["error"],
            run_requests=[TickRunRequest(**r) for r in data["run_requests"]],
            skip_reason=data["skip_reason"],
            cursor=data["cursor"],
            dynamic_partitions=[DynamicPartitionsChange(**d) for d in data["dynamic_partitions"]],
        )


def evaluate_tick(tick: TickRequest, *, deployment_name: str) -> pb.ControlMessage:
    return pb.ControlMessage(
        evaluate_tick=pb.EvaluateTick(
            request_id=str(tick.id),
            deployment=deployment_name,
            location_name=tick.location_name,
            kind=_TICK_KINDS[tick.kind],
            name=tick.name,
            evaluation_time=tick.evaluation_time.timestamp(),
            last_evaluation_time=(
                tick.last_evaluation_time.timestamp() if tick.last_evaluation_time else 0.0
            ),
            has_cursor=tick.cursor is not None,
            cursor=tick.cursor or "",
            timeout_seconds=tick.timeout_seconds,
        )
    )


def _text(value: str, field: str, limit: int = MAX_TICK_TEXT) -> str:
    if len(value.encode()) > limit:
        raise InvalidAgentMessage(f"tick_result.{field} is over {limit} bytes")
    return value


def tick_answer_from_proto(message: pb.TickResult) -> TickAnswer:
    try:
        request_id = str(uuid.UUID(message.request_id))
    except ValueError:
        raise InvalidAgentMessage("tick_result.request_id is not a request id") from None
    if len(message.run_requests) > MAX_TICK_RUN_REQUESTS:
        raise InvalidAgentMessage(
            f"tick_result has {len(message.run_requests)} run requests; at most "
            f"{MAX_TICK_RUN_REQUESTS}"
        )
    return TickAnswer(
        request_id=request_id,
        error=_text(message.error, "error"),
        run_requests=[
            TickRunRequest(
                run_key=_text(r.run_key, "run_key", MAX_RUN_KEY),
                asset_selection=_text(r.asset_selection, "asset_selection", 2000),
                partition_key=_text(r.partition_key, "partition_key", 255),
                tags=dict(r.tags),
            )
            for r in message.run_requests
        ],
        skip_reason=_text(message.skip_reason, "skip_reason", 4000),
        cursor=_text(message.cursor, "cursor") if message.has_cursor else None,
        dynamic_partitions=[
            DynamicPartitionsChange(
                partitions_def_name=_text(d.partitions_def_name, "partitions_def_name", 200),
                add_keys=[_text(k, "add_keys", 255) for k in d.add_keys],
                delete_keys=[_text(k, "delete_keys", 255) for k in d.delete_keys],
            )
            for d in message.dynamic_partitions
        ],
    )
