"""Resource lifecycle for one run (or one worker process): resolve env, set up, tear down."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from assay.definitions.resources import ConfigurableResource
from assay.errors import ResourceError


class RunResources:
    """Opens the resources a run needs, in order, and closes them in reverse, always."""

    def __init__(self, resources: Mapping[str, Any], keys: Iterable[str], run_id: str) -> None:
        self._configured = resources
        self._keys = sorted(set(keys))
        self._run_id = run_id
        self._opened: list[tuple[str, Any]] = []
        self.instances: dict[str, Any] = {}

    def open(self) -> dict[str, Any]:
        for key in self._keys:
            try:
                self._start(key)
            except ResourceError:
                self.close()
                raise
        return self.instances

    def opened_on_read(self) -> Mapping[str, Any]:
        """The resources as a mapping that opens each one the first time it is read, for
        functions (sensors, schedules) that may read none of them; `close` tears down only
        those that were opened."""
        return _OpenedOnRead(self)

    def _start(self, key: str) -> Any:
        resource = self._configured[key]
        try:
            if isinstance(resource, ConfigurableResource):
                resource = resource.with_resolved_env()
            setup = getattr(resource, "setup_for_execution", None)
            if callable(setup):
                setup(self)
        except Exception as exc:
            detail = str(exc) if isinstance(exc, ResourceError) else f"{type(exc).__name__}: {exc}"
            raise ResourceError(f"resource '{key}' failed to start: {detail}") from exc
        self._opened.append((key, resource))
        self.instances[key] = resource
        return resource

    @property
    def run_id(self) -> str:
        return self._run_id

    def close(self) -> list[str]:
        """Tear down what was opened; returns error messages rather than hiding them."""
        errors = []
        while self._opened:
            key, resource = self._opened.pop()
            teardown = getattr(resource, "teardown_after_execution", None)
            if callable(teardown):
                try:
                    teardown(self)
                except Exception as exc:
                    errors.append(
                        f"resource '{key}' failed to tear down: {type(exc).__name__}: {exc}"
                    )
        return errors


class _OpenedOnRead(Mapping[str, Any]):
    """Every configured key; reading one opens it (once) through its `RunResources`."""

    def __init__(self, resources: RunResources) -> None:
        self._resources = resources

    def __getitem__(self, key: str) -> Any:
        opened = self._resources.instances
        if key not in opened:
            if key not in self._resources._configured:
                raise KeyError(key)
            return self._resources._start(key)
        return opened[key]

    def __contains__(self, key: object) -> bool:
        return key in self._resources._configured  # without opening it

    def __iter__(self) -> Iterator[str]:
        return iter(self._resources._configured)

    def __len__(self) -> int:
        return len(self._resources._configured)
