"""Sensors: a user function polled at an interval, with a cursor, that asks for runs.

`evaluate_sensor` is pure: the caller gives the cursor, the evaluation time and the
run keys already launched, and gets back the run requests to launch, the new
cursor, a skip reason, and any dynamic partitions the sensor added or deleted. The
daemon persists those; nothing here touches a database or reads a clock.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from assay.definitions.default_status import DefaultSensorStatus, coerce_default_status
from assay.definitions.jobs import AssetJob
from assay.definitions.targets import Target, coerce_target
from assay.errors import AssayError, DefinitionError
from assay.partitions import DynamicPartitionsDefinition, PartitionsError
from assay.partitions.static import validate_partition_key


class SensorEvaluationError(AssayError):
    """A sensor function raised or returned something that is not a request."""


@dataclass(frozen=True)
class RunRequest:
    """Launch the target (or `asset_selection`) once; a repeated `run_key` launches nothing."""

    run_key: str | None = None
    partition_key: str | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    asset_selection: Sequence[str] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_key": self.run_key,
            "partition_key": self.partition_key,
            "tags": dict(self.tags),
            "asset_selection": list(self.asset_selection) if self.asset_selection else None,
        }


@dataclass(frozen=True)
class SkipReason:
    """Why a tick requested nothing, shown next to the tick."""

    message: str = ""


@dataclass(frozen=True)
class AddDynamicPartitionsRequest:
    """Register keys under a dynamic partitions definition (done by whoever runs the tick)."""

    partitions_def_name: str
    partition_keys: tuple[str, ...]


@dataclass(frozen=True)
class DeleteDynamicPartitionsRequest:
    """Remove keys from a dynamic partitions definition."""

    partitions_def_name: str
    partition_keys: tuple[str, ...]


DynamicPartitionsRequest = AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest


@dataclass(frozen=True)
class SensorResult:
    """What one tick asks for. Sensor functions may also return one directly."""

    run_requests: tuple[RunRequest, ...] = ()
    skip_reason: str | None = None
    cursor: str | None = None
    dynamic_partitions_requests: tuple[DynamicPartitionsRequest, ...] = ()
    # Requests dropped because their run_key had launched before (see dedupe_run_requests).
    duplicate_run_keys: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_requests": [r.to_dict() for r in self.run_requests],
            "skip_reason": self.skip_reason,
            "cursor": self.cursor,
            "dynamic_partitions_requests": [
                {
                    "action": "add" if isinstance(r, AddDynamicPartitionsRequest) else "delete",
                    "partitions_def_name": r.partitions_def_name,
                    "partition_keys": list(r.partition_keys),
                }
                for r in self.dynamic_partitions_requests
            ],
            "duplicate_run_keys": list(self.duplicate_run_keys),
        }


class SensorEvaluationContext:
    """What a sensor function gets: the cursor, the evaluation time, and a place to record."""

    def __init__(
        self,
        *,
        cursor: str | None,
        evaluation_time: datetime,
        sensor_name: str,
        last_evaluation_time: datetime | None = None,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.cursor = cursor
        self.evaluation_time = evaluation_time
        self.last_evaluation_time = last_evaluation_time
        self.sensor_name = sensor_name
        # Kept as given, not copied: the agent's mapping opens a resource on first read.
        self.resources: Mapping[str, Any] = resources if resources is not None else {}
        self.dynamic_partitions_requests: list[DynamicPartitionsRequest] = []

    def update_cursor(self, cursor: str | None) -> None:
        """Remember where this tick got to; the next tick starts from it."""
        if cursor is not None and not isinstance(cursor, str):
            raise SensorEvaluationError(
                f"sensor '{self.sensor_name}': a cursor is a string, got {type(cursor).__name__}"
            )
        self.cursor = cursor

    def add_dynamic_partitions(self, partitions_def_name: str, keys: Iterable[str]) -> None:
        """Ask for new keys under a dynamic partitions definition (e.g. a new customer)."""
        self.dynamic_partitions_requests.append(
            AddDynamicPartitionsRequest(partitions_def_name, _keys(keys, self.sensor_name))
        )

    def delete_dynamic_partitions(self, partitions_def_name: str, keys: Iterable[str]) -> None:
        """Ask for keys to be removed from a dynamic partitions definition."""
        self.dynamic_partitions_requests.append(
            DeleteDynamicPartitionsRequest(partitions_def_name, _keys(keys, self.sensor_name))
        )


def _keys(keys: Iterable[str], sensor_name: str) -> tuple[str, ...]:
    if isinstance(keys, str):
        keys = [keys]
    out = tuple(keys)
    for key in out:
        if not isinstance(key, str) or not key:
            raise SensorEvaluationError(
                f"sensor '{sensor_name}': partition keys are non-empty strings, got {key!r}"
            )
    return out


class SensorDefinition:
    """A named function polled every `minimum_interval_seconds` that yields run requests."""

    def __init__(
        self,
        *,
        name: str,
        evaluation_fn: Callable[..., Any],
        target: Target = None,
        job: AssetJob | None = None,
        minimum_interval_seconds: int = 30,
        description: str | None = None,
        default_status: DefaultSensorStatus | str = DefaultSensorStatus.STOPPED,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise DefinitionError(f"a sensor needs a name, got {name!r}")
        if not isinstance(minimum_interval_seconds, int) or minimum_interval_seconds < 1:
            raise DefinitionError(
                f"sensor '{name}': minimum_interval_seconds must be a positive integer, "
                f"got {minimum_interval_seconds!r}"
            )
        self.name = name
        self.evaluation_fn = evaluation_fn
        self.target = coerce_target(target, job, where=f"sensor '{name}'")
        self.minimum_interval_seconds = minimum_interval_seconds
        self.description = description or inspect.getdoc(evaluation_fn)
        self.default_status = coerce_default_status(
            default_status, DefaultSensorStatus, where=f"sensor '{name}'"
        )
        self._takes_context = bool(inspect.signature(evaluation_fn).parameters)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function directly, as unit tests do."""
        return self.evaluation_fn(*args, **kwargs)

    def is_due(self, *, last_evaluation_time: datetime | None, now: datetime) -> bool:
        """Whether at least `minimum_interval_seconds` passed since the last evaluation."""
        if last_evaluation_time is None:
            return True
        return (now - last_evaluation_time).total_seconds() >= self.minimum_interval_seconds

    def __repr__(self) -> str:
        return f"<SensorDefinition {self.name}>"


def sensor(
    target: Target = None,
    *,
    job: AssetJob | None = None,
    name: str | None = None,
    minimum_interval_seconds: int = 30,
    description: str | None = None,
    default_status: DefaultSensorStatus | str = DefaultSensorStatus.STOPPED,
) -> Callable[[Callable[..., Any]], SensorDefinition]:
    """Declare a sensor: the function takes a `SensorEvaluationContext` and yields or returns
    `RunRequest`s or a `SkipReason` (or a `SensorResult`)."""

    def decorate(fn: Callable[..., Any]) -> SensorDefinition:
        return SensorDefinition(
            name=name or fn.__name__,
            evaluation_fn=fn,
            target=target,
            job=job,
            minimum_interval_seconds=minimum_interval_seconds,
            description=description,
            default_status=default_status,
        )

    return decorate


def check_run_request_partitions(
    requests: Iterable[RunRequest], target: str | AssetJob, *, where: str
) -> None:
    """Refuse requests that cannot launch: a partitioned job's run needs a partition key
    of the job's partitions (dynamic keys are not checked: the tick may be adding them)."""
    if not isinstance(target, AssetJob) or target.partitions_def is None:
        return
    pdef = target.partitions_def
    for request in requests:
        key = request.partition_key
        if key is None:
            raise SensorEvaluationError(
                f"{where} requested a run of partitioned job '{target.name}' without a "
                "partition_key: return RunRequest(partition_key=...)"
            )
        if isinstance(pdef, DynamicPartitionsDefinition):
            continue
        try:
            pdef.subset_with_partition_keys([key])
        except PartitionsError as exc:
            raise SensorEvaluationError(f"{where} requested a run for {exc}") from exc


def dedupe_run_requests(
    requests: Iterable[RunRequest], seen_run_keys: Iterable[str]
) -> tuple[list[RunRequest], list[str]]:
    """Drop requests whose run_key launched before (or earlier in the same batch).

    Returns the requests to launch and the duplicate run keys. Requests without a
    run_key always launch.
    """
    seen = set(seen_run_keys)
    fresh: list[RunRequest] = []
    duplicates: list[str] = []
    for request in requests:
        key = request.run_key
        if key is None:
            fresh.append(request)
        elif key in seen:
            duplicates.append(key)
        else:
            seen.add(key)
            fresh.append(request)
    return fresh, duplicates


class WritableDynamicPartitionsStore(Protocol):
    """A dynamic partitions store that can change (the local instance, the in-memory store)."""

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Iterable[str]
    ) -> object: ...

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None: ...


@runtime_checkable
class _Transactional(Protocol):
    """A store whose writes can commit together (the local instance)."""

    def transaction(self) -> contextlib.AbstractContextManager[object]: ...


def apply_dynamic_partitions_requests(
    store: WritableDynamicPartitionsStore, requests: Iterable[DynamicPartitionsRequest]
) -> None:
    """Carry out what a tick asked for (`SensorResult.dynamic_partitions_requests`), in order.

    Whoever runs the tick calls this before launching its run requests, so a request for
    a partition the sensor just added finds the key. All or nothing: every key to add is
    checked before anything changes, deleting a missing key changes nothing (the rule of
    `DynamicPartitionsChange` on the control plane), and a store with a ``transaction()``
    (the local instance) commits the changes in one transaction.
    """
    requests = list(requests)
    for request in requests:
        if isinstance(request, AddDynamicPartitionsRequest):
            where = f"dynamic partitions {request.partitions_def_name!r}"
            for key in request.partition_keys:
                validate_partition_key(key, where=where)
    together = (
        store.transaction() if isinstance(store, _Transactional) else contextlib.nullcontext()
    )
    with together:
        for request in requests:
            if isinstance(request, AddDynamicPartitionsRequest):
                store.add_dynamic_partitions(request.partitions_def_name, request.partition_keys)
            else:
                for key in request.partition_keys:
                    store.delete_dynamic_partition(request.partitions_def_name, key)


def evaluate_sensor(
    sensor: SensorDefinition,
    cursor: str | None = None,
    *,
    evaluation_time: datetime,
    last_evaluation_time: datetime | None = None,
    seen_run_keys: Iterable[str] = (),
    resources: Mapping[str, Any] | None = None,
) -> SensorResult:
    """Run one tick of `sensor`; user exceptions become `SensorEvaluationError`."""
    context = SensorEvaluationContext(
        cursor=cursor,
        evaluation_time=evaluation_time,
        sensor_name=sensor.name,
        last_evaluation_time=last_evaluation_time,
        resources=resources,
    )
    try:
        raw = sensor.evaluation_fn(context) if sensor._takes_context else sensor.evaluation_fn()
        items = list(raw) if inspect.isgenerator(raw) else _as_list(raw)
    except SensorEvaluationError:
        raise
    except Exception as exc:
        raise SensorEvaluationError(
            f"sensor '{sensor.name}' raised {type(exc).__name__}: {exc}"
        ) from exc
    requests: list[RunRequest] = []
    skip: str | None = None
    new_cursor = context.cursor
    dynamic = list(context.dynamic_partitions_requests)
    for item in items:
        if isinstance(item, RunRequest):
            requests.append(item)
        elif isinstance(item, SkipReason):
            skip = item.message or "skipped"
        elif isinstance(item, AddDynamicPartitionsRequest | DeleteDynamicPartitionsRequest):
            dynamic.append(item)
        elif isinstance(item, SensorResult):
            requests.extend(item.run_requests)
            dynamic.extend(item.dynamic_partitions_requests)
            skip = item.skip_reason or skip
            if item.cursor is not None:
                new_cursor = item.cursor
        else:
            raise SensorEvaluationError(
                f"sensor '{sensor.name}' produced {type(item).__name__}; yield or return "
                "RunRequest, SkipReason, SensorResult or AddDynamicPartitionsRequest"
            )
    check_run_request_partitions(requests, sensor.target, where=f"sensor '{sensor.name}'")
    fresh, duplicates = dedupe_run_requests(requests, seen_run_keys)
    if not fresh and skip is None:
        skip = (
            f"every run key had launched before ({', '.join(duplicates[:3])})"
            if duplicates
            else "the sensor requested no runs"
        )
    return SensorResult(
        run_requests=tuple(fresh),
        skip_reason=skip if not fresh else None,
        cursor=new_cursor,
        dynamic_partitions_requests=tuple(dynamic),
        duplicate_run_keys=tuple(duplicates),
    )


def _as_list(raw: Any) -> list[Any]:
    if raw is None:
        return []
    if isinstance(raw, list | tuple):
        return list(raw)
    return [raw]
