"""A code location whose source is a git repository at one commit, not a directory.

The agent keeps one bare mirror per repository and one worktree per commit under its
state directory, both reused: a second location (or a second load) at the same commit
costs nothing, and a new commit fetches only what it lacks. Nothing is installed; the
location is then loaded from the worktree in its own process, exactly as a path is.
A commit that does not exist is a `GitSourceError`, which the caller reports as that
location's load error while it keeps serving the others.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path

_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
GIT_TIMEOUT_SECONDS = 300.0
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def is_commit(value: str) -> bool:
    """A git commit id as sources name it: 7-64 hex digits."""
    return bool(_COMMIT.match(value))


class GitSourceError(Exception):
    """The repository or commit cannot be fetched; the message is for a person."""


@dataclass(frozen=True)
class GitSource:
    repo: str  # a URL or a local path git understands
    commit: str
    subdirectory: str = ""  # where the location's working directory is inside the repo

    def __post_init__(self) -> None:
        if not _COMMIT.match(self.commit):
            raise GitSourceError(f"{self.commit!r} is not a git commit id (7-64 hex digits)")
        if self.subdirectory.startswith("/") or ".." in Path(self.subdirectory).parts:
            raise GitSourceError("subdirectory must be a relative path inside the repository")


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _git(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_SECONDS,
            env={"GIT_TERMINAL_PROMPT": "0", "PATH": "/usr/local/bin:/usr/bin:/bin"},
        )
    except FileNotFoundError:
        raise GitSourceError("git is not installed on the agent's host") from None
    except subprocess.TimeoutExpired:
        raise GitSourceError(f"git {args[0]} took longer than {GIT_TIMEOUT_SECONDS:g} s") from None


def _last_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = (result.stderr or result.stdout).strip().splitlines()
    return lines[-1] if lines else f"exit status {result.returncode}"


def checkout(source: GitSource, root: Path) -> Path:
    """The working directory of `source` under `root`, fetched and checked out if needed."""
    repo_id = hashlib.sha256(source.repo.encode()).hexdigest()[:16]
    mirror = root / "repos" / f"{repo_id}.git"
    with _lock(mirror):
        if not mirror.exists():
            mirror.parent.mkdir(parents=True, exist_ok=True)
            partial = mirror.with_suffix(".partial")
            result = _git("clone", "--bare", "--quiet", source.repo, str(partial))
            if result.returncode != 0:
                raise GitSourceError(f"cannot clone {source.repo}: {_last_line(result)}")
            partial.rename(mirror)
        commit = _resolve(mirror, source)
        worktree = root / "worktrees" / repo_id / commit
        if not (worktree / ".git").exists():
            worktree.parent.mkdir(parents=True, exist_ok=True)
            _git("worktree", "prune", cwd=mirror)
            result = _git("worktree", "add", "--detach", str(worktree), commit, cwd=mirror)
            if result.returncode != 0:
                raise GitSourceError(f"cannot check out {commit[:12]}: {_last_line(result)}")
    directory = worktree / source.subdirectory if source.subdirectory else worktree
    if not directory.is_dir():
        raise GitSourceError(f"{source.subdirectory!r} does not exist at commit {commit[:12]}")
    return directory


def _resolve(mirror: Path, source: GitSource) -> str:
    """The full id of the commit, fetching it from the repository when the mirror lacks it."""

    def known() -> str | None:
        result = _git("rev-parse", "--verify", "--quiet", f"{source.commit}^{{commit}}", cwd=mirror)
        return result.stdout.strip() if result.returncode == 0 else None

    found = known()
    if found is None:
        _git("fetch", "--quiet", source.repo, "+refs/heads/*:refs/heads/*", cwd=mirror)
        if len(source.commit) == 40:
            _git("fetch", "--quiet", source.repo, source.commit, cwd=mirror)
        found = known()
    if found is None:
        raise GitSourceError(f"commit {source.commit} does not exist in {source.repo}")
    return found
