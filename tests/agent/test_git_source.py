"""Code locations from a real local git repository at a commit: worktrees, reuse, errors."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from agent.config import ConfigError, parse_config
from agent.git_source import GitSource, GitSourceError, checkout
from agent.locations import LocationRegistry
from tests.agent.config_files import minimal_config

V1 = """
from assay import Definitions, asset

@asset(code_version="1")
def orders():
    return 1

defs = Definitions(assets=[orders])
"""

V2 = (
    V1.replace('code_version="1"', 'code_version="2"')
    + """
@asset
def audit(orders):
    return orders

defs = Definitions(assets=[orders, audit])
"""
)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@x.test", "-c", "user.name=t", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> tuple[Path, list[str]]:
    """A repository with three commits: good, good with a new asset, and broken."""
    path = tmp_path / "repo"
    (path / "pipelines").mkdir(parents=True)
    _git(path, "init", "--quiet", "--initial-branch=main")
    commits = []
    for text in (V1, V2, "raise RuntimeError('broken on purpose')\n"):
        (path / "pipelines" / "defs.py").write_text(text)
        _git(path, "add", "-A")
        _git(path, "commit", "--quiet", "-m", "change")
        commits.append(_git(path, "rev-parse", "HEAD"))
    return path, commits


def _registry(tmp_path: Path, repo: Path, commits: dict[str, str]) -> LocationRegistry:
    locations = [
        {"name": name, "file": "pipelines/defs.py", "git": {"repo": str(repo), "commit": commit}}
        for name, commit in commits.items()
    ]
    config = parse_config(
        minimal_config(code_locations=locations, state_dir=str(tmp_path / "state")),
        base_dir=tmp_path,
    )
    return LocationRegistry(config.code_locations)


def _keys(load) -> list[str]:
    return [a["key"] for a in json.loads(load.snapshot_json)["assets"]]


def test_each_commit_loads_from_its_own_worktree_and_a_bad_one_is_a_location_error(
    tmp_path: Path, repo
) -> None:
    path, (good, newer, broken) = repo
    registry = _registry(
        tmp_path,
        path,
        {"prod": good, "branch": newer, "broken": broken, "missing": "f" * 40},
    )
    loads = {load.location_name: load for load in registry.load_all()}
    assert loads["prod"].status == "ok" and _keys(loads["prod"]) == ["orders"]
    assert loads["branch"].status == "ok" and _keys(loads["branch"]) == ["orders", "audit"]
    assert loads["broken"].status == "error"
    assert "broken on purpose" in loads["broken"].error
    assert loads["missing"].status == "error"
    assert f"commit {'f' * 40} does not exist" in loads["missing"].error
    # Runs and ticks start in the commit's worktree, under the agent's state directory.
    working = registry.config("branch").working_directory
    assert working.name == newer and (tmp_path / "state" / "git") in working.parents


def test_a_worktree_is_reused_and_a_new_commit_is_fetched(tmp_path: Path, repo) -> None:
    path, (good, _newer, _) = repo
    root = tmp_path / "state" / "git"
    first = checkout(GitSource(str(path), good), root)
    marker = first / "untracked-marker"
    marker.write_text("kept")
    assert checkout(GitSource(str(path), good[:12]), root) == first and marker.exists()
    # A commit made after the mirror was cloned is fetched on demand.
    (path / "pipelines" / "later.py").write_text("x = 1\n")
    _git(path, "add", "-A")
    _git(path, "commit", "--quiet", "-m", "later")
    later = _git(path, "rev-parse", "HEAD")
    assert (checkout(GitSource(str(path), later), root) / "pipelines" / "later.py").exists()
    assert not (first / "pipelines" / "later.py").exists()


def test_bad_git_settings_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(GitSourceError):
        GitSource("/nowhere", "not-a-commit")
    bad = minimal_config(
        code_locations=[
            {"name": "x", "file": "../escape.py", "git": {"repo": "r", "commit": "a" * 40}}
        ]
    )
    with pytest.raises(ConfigError, match="inside the repository"):
        parse_config(bad, base_dir=tmp_path)
    with pytest.raises(GitSourceError, match="cannot clone"):
        checkout(GitSource(str(tmp_path / "no-repo"), "a" * 40), tmp_path / "git")
