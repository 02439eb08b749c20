from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LocationStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LOCATION_STATUS_UNSPECIFIED: _ClassVar[LocationStatus]
    LOCATION_STATUS_OK: _ClassVar[LocationStatus]
    LOCATION_STATUS_ERROR: _ClassVar[LocationStatus]

class RunStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    RUN_STATUS_UNSPECIFIED: _ClassVar[RunStatus]
    RUN_STATUS_STARTING: _ClassVar[RunStatus]
    RUN_STATUS_STARTED: _ClassVar[RunStatus]
    RUN_STATUS_SUCCEEDED: _ClassVar[RunStatus]
    RUN_STATUS_FAILED: _ClassVar[RunStatus]
    RUN_STATUS_CANCELING: _ClassVar[RunStatus]
    RUN_STATUS_CANCELED: _ClassVar[RunStatus]

class TickKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TICK_KIND_UNSPECIFIED: _ClassVar[TickKind]
    TICK_KIND_SENSOR: _ClassVar[TickKind]
    TICK_KIND_SCHEDULE: _ClassVar[TickKind]

class NoticeSeverity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_SEVERITY_UNSPECIFIED: _ClassVar[NoticeSeverity]
    NOTICE_SEVERITY_INFO: _ClassVar[NoticeSeverity]
    NOTICE_SEVERITY_WARNING: _ClassVar[NoticeSeverity]
    NOTICE_SEVERITY_ERROR: _ClassVar[NoticeSeverity]
LOCATION_STATUS_UNSPECIFIED: LocationStatus
LOCATION_STATUS_OK: LocationStatus
LOCATION_STATUS_ERROR: LocationStatus
RUN_STATUS_UNSPECIFIED: RunStatus
RUN_STATUS_STARTING: RunStatus
RUN_STATUS_STARTED: RunStatus
RUN_STATUS_SUCCEEDED: RunStatus
RUN_STATUS_FAILED: RunStatus
RUN_STATUS_CANCELING: RunStatus
RUN_STATUS_CANCELED: RunStatus
TICK_KIND_UNSPECIFIED: TickKind
TICK_KIND_SENSOR: TickKind
TICK_KIND_SCHEDULE: TickKind
NOTICE_SEVERITY_UNSPECIFIED: NoticeSeverity
NOTICE_SEVERITY_INFO: NoticeSeverity
NOTICE_SEVERITY_WARNING: NoticeSeverity
NOTICE_SEVERITY_ERROR: NoticeSeverity

class AgentMessage(_message.Message):
    __slots__ = ("hello", "heartbeat", "location_snapshot", "event_batch", "run_status_change", "tick_result")
    HELLO_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EVENT_BATCH_FIELD_NUMBER: _ClassVar[int]
    RUN_STATUS_CHANGE_FIELD_NUMBER: _ClassVar[int]
    TICK_RESULT_FIELD_NUMBER: _ClassVar[int]
    hello: Hello
    heartbeat: Heartbeat
    location_snapshot: LocationSnapshot
    event_batch: EventBatch
    run_status_change: RunStatusChange
    tick_result: TickResult
    def __init__(self, hello: _Optional[_Union[Hello, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., location_snapshot: _Optional[_Union[LocationSnapshot, _Mapping]] = ..., event_batch: _Optional[_Union[EventBatch, _Mapping]] = ..., run_status_change: _Optional[_Union[RunStatusChange, _Mapping]] = ..., tick_result: _Optional[_Union[TickResult, _Mapping]] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("welcome", "launch_run", "terminate_run", "reload_location", "ack", "notice", "evaluate_tick", "serve_branches")
    WELCOME_FIELD_NUMBER: _ClassVar[int]
    LAUNCH_RUN_FIELD_NUMBER: _ClassVar[int]
    TERMINATE_RUN_FIELD_NUMBER: _ClassVar[int]
    RELOAD_LOCATION_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    EVALUATE_TICK_FIELD_NUMBER: _ClassVar[int]
    SERVE_BRANCHES_FIELD_NUMBER: _ClassVar[int]
    welcome: Welcome
    launch_run: LaunchRun
    terminate_run: TerminateRun
    reload_location: ReloadLocation
    ack: Ack
    notice: Notice
    evaluate_tick: EvaluateTick
    serve_branches: ServeBranches
    def __init__(self, welcome: _Optional[_Union[Welcome, _Mapping]] = ..., launch_run: _Optional[_Union[LaunchRun, _Mapping]] = ..., terminate_run: _Optional[_Union[TerminateRun, _Mapping]] = ..., reload_location: _Optional[_Union[ReloadLocation, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ..., notice: _Optional[_Union[Notice, _Mapping]] = ..., evaluate_tick: _Optional[_Union[EvaluateTick, _Mapping]] = ..., serve_branches: _Optional[_Union[ServeBranches, _Mapping]] = ...) -> None: ...

class Hello(_message.Message):
    __slots__ = ("agent_id", "agent_version", "protocol_version", "deployments", "code_locations", "last_assigned_sequence", "serves_branches")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    PROTOCOL_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENTS_FIELD_NUMBER: _ClassVar[int]
    CODE_LOCATIONS_FIELD_NUMBER: _ClassVar[int]
    LAST_ASSIGNED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    SERVES_BRANCHES_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    agent_version: str
    protocol_version: int
    deployments: _containers.RepeatedScalarFieldContainer[str]
    code_locations: _containers.RepeatedScalarFieldContainer[str]
    last_assigned_sequence: int
    serves_branches: bool
    def __init__(self, agent_id: _Optional[str] = ..., agent_version: _Optional[str] = ..., protocol_version: _Optional[int] = ..., deployments: _Optional[_Iterable[str]] = ..., code_locations: _Optional[_Iterable[str]] = ..., last_assigned_sequence: _Optional[int] = ..., serves_branches: _Optional[bool] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sequence", "running_run_ids", "timestamp")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RUNNING_RUN_IDS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    running_run_ids: _containers.RepeatedScalarFieldContainer[str]
    timestamp: float
    def __init__(self, sequence: _Optional[int] = ..., running_run_ids: _Optional[_Iterable[str]] = ..., timestamp: _Optional[float] = ...) -> None: ...

class LocationSnapshot(_message.Message):
    __slots__ = ("deployment", "location_name", "status", "error", "snapshot_json", "snapshot_version", "snapshot_id", "sdk_version")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_JSON_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_VERSION_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    SDK_VERSION_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    location_name: str
    status: LocationStatus
    error: str
    snapshot_json: bytes
    snapshot_version: int
    snapshot_id: str
    sdk_version: str
    def __init__(self, deployment: _Optional[str] = ..., location_name: _Optional[str] = ..., status: _Optional[_Union[LocationStatus, str]] = ..., error: _Optional[str] = ..., snapshot_json: _Optional[bytes] = ..., snapshot_version: _Optional[int] = ..., snapshot_id: _Optional[str] = ..., sdk_version: _Optional[str] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[Event]
    def __init__(self, events: _Optional[_Iterable[_Union[Event, _Mapping]]] = ...) -> None: ...

class Event(_message.Message):
    __slots__ = ("id", "sequence", "run_id", "event_type", "timestamp", "payload_json")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_JSON_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    run_id: str
    event_type: str
    timestamp: float
    payload_json: bytes
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., run_id: _Optional[str] = ..., event_type: _Optional[str] = ..., timestamp: _Optional[float] = ..., payload_json: _Optional[bytes] = ...) -> None: ...

class RunStatusChange(_message.Message):
    __slots__ = ("id", "sequence", "run_id", "status", "reason", "timestamp")
    ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    id: str
    sequence: int
    run_id: str
    status: RunStatus
    reason: str
    timestamp: float
    def __init__(self, id: _Optional[str] = ..., sequence: _Optional[int] = ..., run_id: _Optional[str] = ..., status: _Optional[_Union[RunStatus, str]] = ..., reason: _Optional[str] = ..., timestamp: _Optional[float] = ...) -> None: ...

class TickRunRequest(_message.Message):
    __slots__ = ("run_key", "asset_selection", "partition_key", "tags")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    RUN_KEY_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    run_key: str
    asset_selection: str
    partition_key: str
    tags: _containers.ScalarMap[str, str]
    def __init__(self, run_key: _Optional[str] = ..., asset_selection: _Optional[str] = ..., partition_key: _Optional[str] = ..., tags: _Optional[_Mapping[str, str]] = ...) -> None: ...

class DynamicPartitionsChange(_message.Message):
    __slots__ = ("partitions_def_name", "add_keys", "delete_keys")
    PARTITIONS_DEF_NAME_FIELD_NUMBER: _ClassVar[int]
    ADD_KEYS_FIELD_NUMBER: _ClassVar[int]
    DELETE_KEYS_FIELD_NUMBER: _ClassVar[int]
    partitions_def_name: str
    add_keys: _containers.RepeatedScalarFieldContainer[str]
    delete_keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, partitions_def_name: _Optional[str] = ..., add_keys: _Optional[_Iterable[str]] = ..., delete_keys: _Optional[_Iterable[str]] = ...) -> None: ...

class TickResult(_message.Message):
    __slots__ = ("request_id", "error", "run_requests", "skip_reason", "has_cursor", "cursor", "dynamic_partitions")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    RUN_REQUESTS_FIELD_NUMBER: _ClassVar[int]
    SKIP_REASON_FIELD_NUMBER: _ClassVar[int]
    HAS_CURSOR_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    error: str
    run_requests: _containers.RepeatedCompositeFieldContainer[TickRunRequest]
    skip_reason: str
    has_cursor: bool
    cursor: str
    dynamic_partitions: _containers.RepeatedCompositeFieldContainer[DynamicPartitionsChange]
    def __init__(self, request_id: _Optional[str] = ..., error: _Optional[str] = ..., run_requests: _Optional[_Iterable[_Union[TickRunRequest, _Mapping]]] = ..., skip_reason: _Optional[str] = ..., has_cursor: _Optional[bool] = ..., cursor: _Optional[str] = ..., dynamic_partitions: _Optional[_Iterable[_Union[DynamicPartitionsChange, _Mapping]]] = ...) -> None: ...

class Welcome(_message.Message):
    __slots__ = ("session_id", "heartbeat_interval_seconds", "acked_sequence")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    ACKED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    heartbeat_interval_seconds: int
    acked_sequence: int
    def __init__(self, session_id: _Optional[str] = ..., heartbeat_interval_seconds: _Optional[int] = ..., acked_sequence: _Optional[int] = ...) -> None: ...

class DynamicPartitionKeys(_message.Message):
    __slots__ = ("keys",)
    KEYS_FIELD_NUMBER: _ClassVar[int]
    keys: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, keys: _Optional[_Iterable[str]] = ...) -> None: ...

class PartitionRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: str
    end: str
    def __init__(self, start: _Optional[str] = ..., end: _Optional[str] = ...) -> None: ...

class LaunchRun(_message.Message):
    __slots__ = ("run_id", "deployment", "location_name", "asset_selection", "partition_key", "partition_range", "tags", "snapshot_id", "dynamic_partitions")
    class TagsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class DynamicPartitionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: DynamicPartitionKeys
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[DynamicPartitionKeys, _Mapping]] = ...) -> None: ...
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_SELECTION_FIELD_NUMBER: _ClassVar[int]
    PARTITION_KEY_FIELD_NUMBER: _ClassVar[int]
    PARTITION_RANGE_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_ID_FIELD_NUMBER: _ClassVar[int]
    DYNAMIC_PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    deployment: str
    location_name: str
    asset_selection: str
    partition_key: str
    partition_range: PartitionRange
    tags: _containers.ScalarMap[str, str]
    snapshot_id: str
    dynamic_partitions: _containers.MessageMap[str, DynamicPartitionKeys]
    def __init__(self, run_id: _Optional[str] = ..., deployment: _Optional[str] = ..., location_name: _Optional[str] = ..., asset_selection: _Optional[str] = ..., partition_key: _Optional[str] = ..., partition_range: _Optional[_Union[PartitionRange, _Mapping]] = ..., tags: _Optional[_Mapping[str, str]] = ..., snapshot_id: _Optional[str] = ..., dynamic_partitions: _Optional[_Mapping[str, DynamicPartitionKeys]] = ...) -> None: ...

class TerminateRun(_message.Message):
    __slots__ = ("run_id", "reason")
    RUN_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    run_id: str
    reason: str
    def __init__(self, run_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ReloadLocation(_message.Message):
    __slots__ = ("deployment", "location_name")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_NAME_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    location_name: str
    def __init__(self, deployment: _Optional[str] = ..., location_name: _Optional[str] = ...) -> None: ...

class EvaluateTick(_message.Message):
    __slots__ = ("request_id", "deployment", "location_name", "kind", "name", "evaluation_time", "last_evaluation_time", "has_cursor", "cursor", "timeout_seconds")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    LOCATION_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_EVALUATION_TIME_FIELD_NUMBER: _ClassVar[int]
    HAS_CURSOR_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    TIMEOUT_SECONDS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    deployment: str
    location_name: str
    kind: TickKind
    name: str
    evaluation_time: float
    last_evaluation_time: float
    has_cursor: bool
    cursor: str
    timeout_seconds: int
    def __init__(self, request_id: _Optional[str] = ..., deployment: _Optional[str] = ..., location_name: _Optional[str] = ..., kind: _Optional[_Union[TickKind, str]] = ..., name: _Optional[str] = ..., evaluation_time: _Optional[float] = ..., last_evaluation_time: _Optional[float] = ..., has_cursor: _Optional[bool] = ..., cursor: _Optional[str] = ..., timeout_seconds: _Optional[int] = ...) -> None: ...

class BranchToServe(_message.Message):
    __slots__ = ("deployment", "base_deployment", "commit", "repo")
    DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    BASE_DEPLOYMENT_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    REPO_FIELD_NUMBER: _ClassVar[int]
    deployment: str
    base_deployment: str
    commit: str
    repo: str
    def __init__(self, deployment: _Optional[str] = ..., base_deployment: _Optional[str] = ..., commit: _Optional[str] = ..., repo: _Optional[str] = ...) -> None: ...

class ServeBranches(_message.Message):
    __slots__ = ("branches",)
    BRANCHES_FIELD_NUMBER: _ClassVar[int]
    branches: _containers.RepeatedCompositeFieldContainer[BranchToServe]
    def __init__(self, branches: _Optional[_Iterable[_Union[BranchToServe, _Mapping]]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("acked_sequence",)
    ACKED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    acked_sequence: int
    def __init__(self, acked_sequence: _Optional[int] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("severity", "code", "message", "related_sequence")
    SEVERITY_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RELATED_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    severity: NoticeSeverity
    code: str
    message: str
    related_sequence: int
    def __init__(self, severity: _Optional[_Union[NoticeSeverity, str]] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., related_sequence: _Optional[int] = ...) -> None: ...
