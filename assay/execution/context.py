"""The context an asset or check function receives: run id, keys, resources, a logger."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping, Sequence
from types import SimpleNamespace
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.errors import AssayError
from assay.execution.events import Event, EventType
from assay.partitions import PartitionKeyRange, TimeWindow

_python_logger = logging.getLogger("assay.user")
# Set by the agent for each run (and read by `EnvVar` resources as any variable is).
DEPLOYMENT_NAME_ENV = "ASSAY_DEPLOYMENT_NAME"
IS_BRANCH_DEPLOYMENT_ENV = "ASSAY_IS_BRANCH_DEPLOYMENT"


class RunLogger:
    """`context.log`: lines become LOG events in the run's stream (and Python logging)."""

    def __init__(self, run_id: str, step_key: str, emit: Callable[[Event], None]) -> None:
        self._run_id = run_id
        self._step_key = step_key
        self._emit = emit

    def _log(self, level: int, msg: str, *args: Any) -> None:
        text = msg % args if args else str(msg)
        _python_logger.log(level, "[%s] %s", self._step_key, text)
        self._emit(
            Event(
                EventType.LOG,
                self._run_id,
                step_key=self._step_key,
                payload={"level": logging.getLevelName(level), "message": text[:10_000]},
            )
        )

    def debug(self, msg: str, *args: Any) -> None:
        self._log(logging.DEBUG, msg, *args)

    def info(self, msg: str, *args: Any) -> None:
        self._log(logging.INFO, msg, *args)

    def warning(self, msg: str, *args: Any) -> None:
        self._log(logging.WARNING, msg, *args)

    warn = warning

    def error(self, msg: str, *args: Any) -> None:
        self._log(logging.ERROR, msg, *args)


class AssetExecutionContext:
    """What user code may know about the run it is part of."""

    def __init__(
        self,
        *,
        run_id: str,
        step_key: str,
        asset_keys: tuple[AssetKey, ...],
        resources: Mapping[str, Any],
        log: RunLogger,
        check_name: str | None = None,
        partition_key: str | None = None,
        run_tags: Mapping[str, str] | None = None,
        partition_keys: Sequence[str] = (),
        partition_time_window: Any = None,
    ) -> None:
        self.run_id = run_id
        self.step_key = step_key
        self.asset_keys = asset_keys
        self.resources = SimpleNamespace(**resources)
        self.log = log
        self.check_name = check_name
        if not partition_keys and partition_key is not None:
            partition_keys = (partition_key,)
        self.partition_keys: tuple[str, ...] = tuple(partition_keys)
        self._partition_time_window = partition_time_window
        self.run_tags = dict(run_tags or {})
        self.output_metadata: dict[AssetKey, dict[str, Any]] = {}

    @property
    def deployment_name(self) -> str | None:
        """The deployment this run is in (the agent sets ``ASSAY_DEPLOYMENT_NAME``); None
        outside an agent, e.g. under ``assay materialize``."""
        return os.environ.get(DEPLOYMENT_NAME_ENV) or None

    @property
    def is_branch_deployment(self) -> bool:
        """Whether this run is in a branch deployment, so a resource can use a branch schema."""
        return os.environ.get(IS_BRANCH_DEPLOYMENT_ENV) == "1"

    @property
    def asset_key(self) -> AssetKey:
        if len(self.asset_keys) != 1:
            raise AssayError(f"step '{self.step_key}' has several assets; use context.asset_keys")
        return self.asset_keys[0]

    @property
    def partition_key(self) -> str | None:
        """This step's partition; None when unpartitioned; an error when it covers a range."""
        keys = self.partition_keys
        if len(keys) > 1:
            raise AssayError(
                f"step '{self.step_key}' covers {len(keys)} partitions ({keys[0]} .. "
                f"{keys[-1]}): use context.partition_key_range or context.partition_keys"
            )
        return keys[0] if keys else None

    @property
    def has_partition_key(self) -> bool:
        """Whether this step covers exactly one partition."""
        return len(self.partition_keys) == 1

    @property
    def has_partition_key_range(self) -> bool:
        """Whether this step's assets are partitioned in this run (one key or several)."""
        return bool(self.partition_keys)

    @property
    def partition_key_range(self) -> PartitionKeyRange:
        """The first and last partition this step covers (equal for a single key)."""
        keys = self._require_partitions("partition_key_range")
        return PartitionKeyRange(keys[0], keys[-1])

    @property
    def partition_time_window(self) -> TimeWindow:
        """The time span this step's partitions cover: of time-window partitions, or of the
        time dimension of multi partitions (date x region)."""
        self._require_partitions("partition_time_window")
        if self._partition_time_window is None:
            raise AssayError(
                f"step '{self.step_key}' is not partitioned by time: "
                "context.partition_time_window needs time-window partitions (or a multi "
                "partitions definition with a time dimension)"
            )
        return self._partition_time_window

    def _require_partitions(self, what: str) -> tuple[str, ...]:
        if not self.partition_keys:
            raise AssayError(f"step '{self.step_key}' is not partitioned: context.{what} is unset")
        return self.partition_keys

    def add_output_metadata(
        self, metadata: Mapping[str, Any], *, asset_key: CoercibleToAssetKey | None = None
    ) -> None:
        """Attach metadata to this step's materialization event (e.g. a row count)."""
        key = AssetKey.from_coercible(asset_key) if asset_key is not None else self.asset_key
        self.output_metadata.setdefault(key, {}).update(metadata)


AssetCheckExecutionContext = AssetExecutionContext


def build_asset_context(
    *,
    resources: Mapping[str, Any] | None = None,
    asset_key: CoercibleToAssetKey = "asset",
    partition_key: str | None = None,
    run_id: str = "test-run",
    partition_key_range: PartitionKeyRange | None = None,
    partitions_def: Any = None,
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a unit test.

    Log lines are kept as events in `context.logged_events`. With `partitions_def`
    (time-window, or multi with a time dimension), `partition_key_range` and
    `partition_time_window` work as in a run.
    """
    keys: tuple[str, ...] = (partition_key,) if partition_key is not None else ()
    window = None
    if partition_key_range is not None:
        if partitions_def is None:
            raise AssayError("build_asset_context(partition_key_range=) needs partitions_def=")
        keys = tuple(partitions_def.get_partition_keys_in_range(partition_key_range))
    # Time-window and multi (date x region) definitions know the time their keys cover.
    window_of = getattr(partitions_def, "time_window_for_partition_keys", None)
    if keys and window_of is not None:
        window = window_of(keys)
    events: list[Event] = []
    context = AssetExecutionContext(
        run_id=run_id,
        step_key="test",
        asset_keys=(AssetKey.from_coercible(asset_key),),
        resources=dict(resources or {}),
        log=RunLogger(run_id, "test", events.append),
        partition_keys=keys,
        partition_time_window=window,
    )
    context.logged_events = events  # type: ignore[attr-defined]
    return context
