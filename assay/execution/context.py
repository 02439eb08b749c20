"""The context an asset or check function receives: run id, keys, resources, a logger."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from types import SimpleNamespace
from typing import Any

from assay.definitions.asset_key import AssetKey, CoercibleToAssetKey
from assay.errors import AssayError
from assay.execution.events import Event, EventType

_python_logger = logging.getLogger("assay.user")


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
    ) -> None:
        self.run_id = run_id
        self.step_key = step_key
        self.asset_keys = asset_keys
        self.resources = SimpleNamespace(**resources)
        self.log = log
        self.check_name = check_name
        self.partition_key = partition_key
        self.run_tags = dict(run_tags or {})
        self.output_metadata: dict[AssetKey, dict[str, Any]] = {}

    @property
    def asset_key(self) -> AssetKey:
        if len(self.asset_keys) != 1:
            raise AssayError(f"step '{self.step_key}' has several assets; use context.asset_keys")
        return self.asset_keys[0]

    @property
    def has_partition_key(self) -> bool:
        return self.partition_key is not None

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
) -> AssetExecutionContext:
    """A context for calling an asset function directly in a unit test.

    Log lines are kept as events in `context.logged_events`.
    """
    events: list[Event] = []
    context = AssetExecutionContext(
        run_id=run_id,
        step_key="test",
        asset_keys=(AssetKey.from_coercible(asset_key),),
        resources=dict(resources or {}),
        log=RunLogger(run_id, "test", events.append),
        partition_key=partition_key,
    )
    context.logged_events = events  # type: ignore[attr-defined]
    return context
