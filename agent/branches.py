"""The branch deployments this agent serves, as the control plane last told it.

`ServeBranches` is declarative: the complete set, sent after welcome and on every change.
Each branch gets its own `LocationRegistry` over the base's code locations, where every
location whose git source is the pull request's repository points at the branch's commit
(the others load as in the base: a pull request changes only its own repository). Git
worktrees are per commit and reused, so prod and its branches share one mirror and a
branch moved back to a commit it had costs nothing but a load.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from agent.config import CodeLocationConfig
from agent.location_process import LocationLoad
from agent.locations import LocationRegistry


@dataclass(frozen=True)
class Branch:
    deployment: str
    base: str
    commit: str
    repo: str  # "owner/name"


def same_repository(source: str, repo: str) -> bool:
    """Whether a git source (URL, scp-like address or local path) is the repository
    ``owner/name``: its last path segments, without ``.git``, case-insensitively."""
    path = source.strip().rstrip("/")
    path = path.removesuffix(".git")
    parts = [part.lower() for part in re.split(r"[/:\\]", path) if part]
    wanted = [part.lower() for part in repo.split("/") if part]
    return bool(wanted) and parts[-len(wanted) :] == wanted


def branch_locations(
    locations: Sequence[CodeLocationConfig], branch: Branch
) -> list[CodeLocationConfig]:
    """The base's locations as the branch serves them."""
    served = []
    for location in locations:
        git = location.git
        if git is not None and same_repository(git.repo, branch.repo):
            location = dataclasses.replace(
                location, git=dataclasses.replace(git, commit=branch.commit)
            )
        served.append(location)
    return served


class BranchDeployments:
    """Served branches and their registries; safe to share between threads."""

    def __init__(
        self,
        locations: Sequence[CodeLocationConfig],
        *,
        bases: Collection[str],
        hidden_env_vars: Collection[str] = (),
    ) -> None:
        self._locations = tuple(locations)
        self._bases = frozenset(bases)
        self._hidden = tuple(hidden_env_vars)
        self._lock = threading.Lock()
        self._served: dict[str, tuple[Branch, LocationRegistry]] = {}

    def apply(
        self, wanted: Iterable[Branch]
    ) -> tuple[list[tuple[Branch, LocationRegistry]], list[str]]:
        """Serve exactly ``wanted``: returns the (new or moved) branches to load, and the
        names of those unloaded. Branches of a base this agent does not serve are ignored."""
        by_name = {b.deployment: b for b in wanted if b.base in self._bases}
        to_load: list[tuple[Branch, LocationRegistry]] = []
        with self._lock:
            removed = sorted(set(self._served) - set(by_name))
            for name in removed:
                del self._served[name]
            for name, branch in by_name.items():
                current = self._served.get(name)
                if current is not None and current[0] == branch:
                    continue
                registry = LocationRegistry(
                    branch_locations(self._locations, branch), hidden_env_vars=self._hidden
                )
                self._served[name] = (branch, registry)
                to_load.append((branch, registry))
        return to_load, removed

    def registry(self, deployment: str) -> LocationRegistry | None:
        with self._lock:
            served = self._served.get(deployment)
        return None if served is None else served[1]

    def is_current(self, deployment: str, registry: LocationRegistry) -> bool:
        """False once a newer ServeBranches moved or removed the branch."""
        return self.registry(deployment) is registry

    @property
    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._served)

    def loads(self) -> list[tuple[str, LocationLoad]]:
        """Every served branch's latest loads, for the snapshots sent after a reconnect."""
        with self._lock:
            served = list(self._served.items())
        return [(name, load) for name, (_, registry) in served for load in registry.all_current()]
