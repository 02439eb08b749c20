"""A pull request's life end to end: a real local git repository, the real agent serving
prod from it, `assay ci` against a live control plane, and the PR comment on a local GitHub
API stand-in. The agent is told which commit each branch runs; prod is never touched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from control_plane.agents.models import AgentSession
from control_plane.branches import services
from control_plane.branches.github import refresh_comments
from control_plane.branches.models import BranchDeployment
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import tenant_context
from control_plane.daemon import Loop
from control_plane.runs.models import TERMINAL_STATUSES, Run, RunStatus
from control_plane.tenancy.models import Deployment
from tests.control_plane.branches.github_stand_in import SECRET, GitHubStandIn, deliver, payload
from tests.control_plane.real_agent import real_agent, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

MAIN = """
from assay import Definitions, asset


@asset(code_version="1")
def orders(context) -> list:
    context.add_output_metadata({"deployment": context.deployment_name or "none",
                                 "branch": context.is_branch_deployment})
    return [1, 2, 3]


@asset(code_version="1")
def order_count(orders: list) -> int:
    return len(orders)


@asset(code_version="1")
def report(order_count: int) -> str:
    return f"{order_count} orders"


defs = Definitions(assets=[orders, order_count, report])
"""

# The pull request: order_count's code changes, a new asset appears.
FIRST_PUSH = MAIN.replace(
    '@asset(code_version="1")\ndef order_count', '@asset(code_version="2")\ndef order_count'
).replace(
    "defs = Definitions(assets=[orders, order_count, report])",
    "@asset\ndef audit(orders: list) -> bool:\n    return bool(orders)\n\n\n"
    "defs = Definitions(assets=[orders, order_count, report, audit])",
)
# The second push drops the new asset again and changes report instead.
SECOND_PUSH = MAIN.replace(
    '@asset(code_version="1")\ndef order_count', '@asset(code_version="2")\ndef order_count'
).replace('@asset(code_version="1")\ndef report', '@asset(code_version="3")\ndef report')


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=t@x.test", "-c", "user.name=t", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def _commit(repo: Path, text: str, message: str) -> str:
    (repo / "pipelines").mkdir(exist_ok=True)
    (repo / "pipelines" / "defs.py").write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", message)
    return _git(repo, "rev-parse", "HEAD")


def _ci(live_server, token: str, *args: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env.update(ASSAY_URL=live_server.url, ASSAY_CI_TOKEN=token)
    done = subprocess.run(
        [sys.executable, "-m", "assay", "ci", *args],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _current_snapshot(deployment_name: str) -> LocationSnapshot | None:
    return (
        LocationSnapshot.objects.filter(deployment__name=deployment_name, is_current=True)
        .select_related("code_location")
        .first()
    )


def test_a_pull_request_runs_its_commit_on_the_agent_and_is_torn_down(acme, tmp_path, live_server):
    repo = tmp_path / "acme" / "warehouse"
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    prod_commit = _commit(repo, MAIN, "main")
    github = GitHubStandIn()
    client = acme.client()
    configured = client.put(
        "/api/v1/orgs/acme/github/",
        {"webhook_secret": SECRET, "api_token": "ghp_test",
         "api_url": github.url, "console_url": "https://assay.example"},
        format="json",
    )  # fmt: skip
    assert configured.status_code == 200, configured.content
    with tenant_context(acme.ctx()):
        _, ci_token = services.issue_ci_token(ctx=acme.ctx(), name="ci")
    source = (
        f"    file: pipelines/defs.py\n    git:\n      repo: {repo}\n      commit: {prod_commit}\n"
    )
    comments = Loop("branch_comments", 0.2, refresh_comments)
    agent_dir = tmp_path / "agent"
    agent_dir.mkdir()
    with real_agent(acme, agent_dir, project=None, source=source, loops=[comments]) as log:
        with tenant_context(acme.ctx()):
            prod_snapshot = _current_snapshot("prod").snapshot_id

        # The pull request opens: the agent loads its head commit as the branch deployment.
        _git(repo, "checkout", "--quiet", "-b", "feature/audit")
        first = _commit(repo, FIRST_PUSH, "audit")
        pr = ["--repo", "acme/warehouse", "--branch", "feature/audit", "--pr", "7",
              "--title", "Audit orders", "--author", "ana"]  # fmt: skip
        opened = _ci(live_server, ci_token, "branch", "create-or-update", *pr, "--commit", first)
        assert opened["outcome"] == "created" and opened["deployment"] == "warehouse-pr-7"
        detail_url = "/api/v1/orgs/acme/branch-deployments/warehouse-pr-7/"

        def diff_at(commit: str):
            body = client.get(detail_url).json()
            return body if body["loaded_commit"] == commit and body["diff"] else None

        diff = wait_for(lambda: diff_at(first), "the branch loaded at its commit", log=log)["diff"]
        assert [c["key"] for c in diff["new"]] == ["audit"]
        changed = {c["key"]: c for c in diff["changed"]}
        assert list(changed) == ["order_count"]
        assert changed["order_count"]["kinds"] == ["code_version"]
        assert changed["order_count"]["blast_radius"] == ["report"]

        # The PR comment catches up with what the agent loaded.
        def comment_with(text: str):
            edits = [r for r in github.requests if r[0] in {"POST", "PATCH"}]
            return edits and text in edits[-1][2]["body"] and edits[-1][2]["body"]

        body = wait_for(lambda: comment_with("`audit`"), "the comment listing the changes")
        assert "`order_count`" in body and "code_version" in body and "credits" in body
        assert len([r for r in github.requests if r[0] == "POST"]) == 1

        # Materialize the changed asset in the branch: the agent runs the branch's code.
        launched = client.post(
            "/api/v1/orgs/acme/deployments/warehouse-pr-7/runs/",
            {"location": "shop", "selection": "orders, order_count, audit"},
            format="json",
        )
        assert launched.status_code == 201, launched.content
        run_id = launched.json()["id"]

        def finished():
            with tenant_context(acme.ctx()):
                run = Run.objects.get(pk=run_id)
            return run if run.status in TERMINAL_STATUSES else None

        run = wait_for(finished, "the branch run to finish", log=log)
        assert run.status == RunStatus.SUCCESS, (run.reason, log.read_text()[-3000:])
        assets_url = "/api/v1/orgs/acme/deployments/warehouse-pr-7/assets/"
        assets = {a["key"]: a for a in client.get(assets_url).json()["results"]}
        assert assets["audit"]["latest_materialization"]["run_id"] == run_id
        events = client.get(
            f"/api/v1/orgs/acme/deployments/warehouse-pr-7/runs/{run_id}/events/"
        ).json()["results"]
        [orders] = [
            e["payload"]["payload"]
            for e in events
            if e["event_type"] == "asset_materialization" and e["asset_key"] == "orders"
        ]
        # The user code knew where it ran.
        assert orders["metadata"]["deployment"] == "warehouse-pr-7"
        assert orders["metadata"]["branch"] is True

        # A second push moves the same deployment; the diff and the comment follow.
        second = _commit(repo, SECOND_PUSH, "report instead")
        updated = _ci(live_server, ci_token, "branch", "create-or-update", *pr, "--commit", second)
        assert updated["outcome"] == "updated" and updated["deployment"] == "warehouse-pr-7"
        diff = wait_for(lambda: diff_at(second), "the branch at the second push", log=log)["diff"]
        assert diff["new"] == []
        assert {c["key"] for c in diff["changed"]} == {"order_count", "report"}
        body = wait_for(lambda: comment_with("`report`"), "the comment of the second push")
        assert "`audit`" not in body
        assert len([r for r in github.requests if r[0] == "POST"]) == 1

        # A push that changes no definition (same snapshot): the comment still catches up.
        (repo / "README.md").write_text("docs only\n")
        _git(repo, "add", "-A")
        _git(repo, "commit", "--quiet", "-m", "docs")
        third = _git(repo, "rev-parse", "HEAD")
        _ci(live_server, ci_token, "branch", "create-or-update", *pr, "--commit", third)
        wait_for(lambda: diff_at(third), "the branch at the docs-only push", log=log)
        body = wait_for(
            lambda: comment_with(third[:12]) and comment_with("`report`"),
            "the comment of the docs-only push",
        )
        assert "Waiting for the agent" not in body

        # Closing tears it down: the agent stops serving it, launches are refused.
        closed = _ci(live_server, ci_token, "branch", "close", "--pr", "7")
        assert closed["status"] == "closed"
        with tenant_context(acme.ctx()):
            branch_id = Deployment.objects.get(name="warehouse-pr-7").pk

        def unserved():
            with tenant_context(acme.ctx()):
                session = AgentSession.objects.get(connected=True)
            return branch_id not in session.deployment_ids

        wait_for(unserved, "the agent session to stop serving the branch", log=log)
        wait_for(lambda: "warehouse-pr-7 closed" in log.read_text(), "the agent to unload it")
        refused = client.post(
            "/api/v1/orgs/acme/deployments/warehouse-pr-7/runs/",
            {"location": "shop"},
            format="json",
        )
        assert refused.status_code == 409, refused.content

        # The other way in: a signed GitHub delivery opens a pull request the same way.
        _git(repo, "checkout", "--quiet", "-b", "feature/other", prod_commit)
        other = _commit(repo, SECOND_PUSH, "report only")
        delivered = deliver(client, payload("opened", other), "delivery-1")
        assert delivered.json()["outcome"] == "created", delivered.content
        other_url = "/api/v1/orgs/acme/branch-deployments/warehouse-pr-5/"
        loaded = wait_for(
            lambda: client.get(other_url).json()["loaded_commit"] == other,
            "the webhook's branch loaded",
            log=log,
        )
        assert loaded
        diff = client.get(other_url).json()["diff"]
        assert {c["key"] for c in diff["changed"]} == {"order_count", "report"}
        assert deliver(client, payload("closed", other), "delivery-2").json()["outcome"] == (
            "closed"
        )
        wait_for(lambda: "warehouse-pr-5 closed" in log.read_text(), "the agent to unload it")

        # Prod was untouched throughout: same code, no runs.
        with tenant_context(acme.ctx()):
            assert _current_snapshot("prod").snapshot_id == prod_snapshot
            assert not Run.objects.filter(deployment__name="prod").exists()
            assert set(BranchDeployment.objects.values_list("status", flat=True)) == {"closed"}
    github.server.shutdown()
