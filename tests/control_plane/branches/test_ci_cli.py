"""`assay ci` as a CI job runs it: a subprocess talking HTTP to a live control plane."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from control_plane.branches import services
from control_plane.branches.models import BranchDeployment
from control_plane.core.context import tenant_context
from control_plane.tenancy import queries
from tests.control_plane.conftest import make_org
from tests.control_plane.factories import load_location


def _assay(live_server, token: str, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(ASSAY_URL=live_server.url, ASSAY_CI_TOKEN=token)
    return subprocess.run(
        [sys.executable, "-m", "assay", "ci", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_create_update_close_and_deploy_from_the_command_line(live_server):
    world = make_org("acme")
    with tenant_context(world.ctx()):
        prod = queries.get_deployment(name="prod")
        _, token = services.issue_ci_token(ctx=world.ctx(), name="ci")
    load_location(world.ctx(), deployment=prod, name="shop")
    opened = ["branch", "create-or-update", "--repo", "acme/warehouse", "--branch", "feat",
              "--pr", "12", "--title", "Add audit", "--author", "ana"]  # fmt: skip

    first = _assay(live_server, token, *opened, "--commit", "1" * 40)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["outcome"] == "created"
    again = _assay(live_server, token, *opened, "--commit", "2" * 40)
    assert json.loads(again.stdout)["outcome"] == "updated", again.stderr

    closed = _assay(live_server, token, "branch", "close", "--pr", "12")
    assert closed.returncode == 0, closed.stderr
    assert json.loads(closed.stdout)["status"] == "closed"
    deployed = _assay(live_server, token, "deploy", "--commit", "3" * 40)
    assert json.loads(deployed.stdout)["deployment"] == "prod", deployed.stderr

    with tenant_context(world.ctx()):
        row = BranchDeployment.objects.get()
        assert (row.pr_number, row.commit, row.status) == (12, "2" * 40, "closed")


@pytest.mark.django_db(transaction=True)
def test_errors_are_one_line_and_exit_2(live_server):
    bad = _assay(live_server, "assay_c_nope_nope", "branch", "close", "--pr", "1")
    assert bad.returncode == 2
    assert "401" in bad.stderr and "Traceback" not in bad.stderr
    missing = _assay(live_server, "", "deploy", "--commit", "abc1234")
    assert missing.returncode == 2 and "ASSAY_CI_TOKEN" in missing.stderr
