"""The code locations this agent serves and the latest outcome of loading each one.

Every location loads in its own subprocess (`location_process`); one that fails is kept
with its error so the agent reports it and keeps serving the others.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor

from agent.config import CodeLocationConfig
from agent.git_source import GitSourceError, checkout
from agent.location_process import LocationLoad, load_error, load_location


class UnknownLocation(KeyError):
    """A control message named a location this agent does not serve."""


class LocationRegistry:
    """Configured locations and their current loads; safe to share between threads."""

    def __init__(
        self, locations: Sequence[CodeLocationConfig], *, hidden_env_vars: Collection[str] = ()
    ) -> None:
        self._configs = {location.name: location for location in locations}
        self._hidden = tuple(hidden_env_vars)
        self._lock = threading.Lock()
        self._loads: dict[str, LocationLoad] = {}
        # Git locations as last checked out: the directory their runs and ticks start in.
        self._resolved: dict[str, CodeLocationConfig] = {}

    @property
    def names(self) -> list[str]:
        return list(self._configs)

    def config(self, name: str) -> CodeLocationConfig:
        try:
            configured = self._configs[name]
        except KeyError:
            raise UnknownLocation(name) from None
        with self._lock:
            return self._resolved.get(name, configured)

    def load_all(self) -> list[LocationLoad]:
        """(Re)load every location, a few at a time (each is a Python interpreter start)."""
        with ThreadPoolExecutor(max_workers=4, thread_name_prefix="location-load") as pool:
            return list(pool.map(self.reload, self._configs))

    def reload(self, name: str) -> LocationLoad:
        configured = self._configs.get(name)
        if configured is None:
            raise UnknownLocation(name)
        try:
            location = resolve_git(configured)
        except GitSourceError as exc:
            load = load_error(configured, f"git source: {exc}")
        else:
            with self._lock:
                self._resolved[name] = location
            load = load_location(location, hidden_env_vars=self._hidden)
        with self._lock:
            self._loads[name] = load
        return load

    def current(self, name: str) -> LocationLoad | None:
        """The latest load of `name` (None before the first one finished)."""
        self.config(name)
        with self._lock:
            return self._loads.get(name)

    def all_current(self) -> list[LocationLoad]:
        with self._lock:
            return [self._loads[name] for name in self._configs if name in self._loads]


def resolve_git(location: CodeLocationConfig) -> CodeLocationConfig:
    """`location` with its git source checked out: paths point into the commit's worktree."""
    if location.git is None or location.git_root is None:
        return location
    directory = checkout(location.git, location.git_root)
    return dataclasses.replace(
        location,
        working_directory=directory,
        file=None if location.file is None else directory / location.file,
        python=location.python,
    )
