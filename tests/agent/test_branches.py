"""Which code a branch deployment serves: the pull request's repository at its commit,
everything else as in the base; and the declarative set the control plane sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent import convert
from agent.branches import Branch, BranchDeployments, branch_locations, same_repository
from agent.config import parse_config
from assay.api.v1 import agent_pb2 as pb
from tests.agent.config_files import minimal_config


@pytest.mark.parametrize(
    ("source", "same"),
    [
        ("https://github.com/acme/warehouse.git", True),
        ("https://github.com/Acme/Warehouse/", True),
        ("git@github.com:acme/warehouse.git", True),
        ("/srv/git/acme/warehouse", True),
        ("https://github.com/acme/warehouse-old.git", False),
        ("https://github.com/other/warehouse.git", False),
        ("warehouse", False),
    ],
)
def test_a_git_source_is_matched_to_the_pull_requests_repository(source, same) -> None:
    assert same_repository(source, "acme/warehouse") is same


def _locations(tmp_path: Path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "defs.py").write_text("")
    config = parse_config(
        minimal_config(
            code_locations=[
                {
                    "name": "shop",
                    "file": "defs.py",
                    "git": {"repo": "https://github.com/acme/warehouse.git", "commit": "a" * 40},
                },
                {
                    "name": "shared",
                    "file": "defs.py",
                    "git": {"repo": "https://github.com/acme/shared.git", "commit": "b" * 40},
                },
                {"name": "local", "file": "defs.py", "working_directory": "local"},
            ],
            state_dir=str(tmp_path / "state"),
        ),
        base_dir=tmp_path,
    )
    return config.code_locations


def test_only_the_pull_requests_repository_moves_to_the_branch_commit(tmp_path: Path) -> None:
    branch = Branch(
        deployment="warehouse-pr-7", base="prod", commit="c" * 40, repo="acme/warehouse"
    )
    served = {loc.name: loc for loc in branch_locations(_locations(tmp_path), branch)}
    assert served["shop"].git is not None and served["shop"].git.commit == "c" * 40
    assert served["shared"].git is not None and served["shared"].git.commit == "b" * 40
    assert served["local"].git is None


def test_the_set_is_declarative_new_moved_kept_and_dropped(tmp_path: Path) -> None:
    branches = BranchDeployments(_locations(tmp_path), bases=["prod"])
    one = Branch("warehouse-pr-1", "prod", "1" * 40, "acme/warehouse")
    two = Branch("warehouse-pr-2", "prod", "2" * 40, "acme/warehouse")
    foreign = Branch("other-pr-3", "staging", "3" * 40, "acme/warehouse")
    to_load, removed = branches.apply([one, two, foreign])
    assert [b.deployment for b, _ in to_load] == ["warehouse-pr-1", "warehouse-pr-2"]
    assert removed == [] and branches.names == ["warehouse-pr-1", "warehouse-pr-2"]
    first_registry = branches.registry("warehouse-pr-1")

    moved = Branch("warehouse-pr-2", "prod", "4" * 40, "acme/warehouse")
    to_load, removed = branches.apply([one, moved])
    assert [(b.deployment, b.commit) for b, _ in to_load] == [("warehouse-pr-2", "4" * 40)]
    assert branches.registry("warehouse-pr-1") is first_registry  # unchanged: not reloaded
    assert branches.registry("other-pr-3") is None  # not a base this agent serves

    to_load, removed = branches.apply([])
    assert to_load == [] and removed == ["warehouse-pr-1", "warehouse-pr-2"]
    assert branches.registry("warehouse-pr-1") is None


def test_entries_without_a_commit_id_are_dropped() -> None:
    message = pb.ServeBranches(
        branches=[
            pb.BranchToServe(deployment="a-pr-1", base_deployment="prod", commit="abc1234"),
            pb.BranchToServe(deployment="a-pr-2", base_deployment="prod", commit="HEAD"),
            pb.BranchToServe(deployment="", base_deployment="prod", commit="abc1234"),
        ]
    )
    assert [b.deployment for b in convert.branches(message)] == ["a-pr-1"]
