"""Benchmark: a branch deployment's time to ready, and change tracking at 10,000 assets.

    .venv/bin/python bench/branches.py

`ready_s`: a throwaway PostgreSQL, `python -m control_plane grpc` in its own process, and
the real `assay-agent` serving prod from a local git repository (a small code location).
For each of `BENCH_BRANCHES` (5) pull requests, each at a commit the agent has not seen,
`branches.services.create_or_update` (what `assay ci branch create-or-update` and the
webhook call) opens the branch deployment; ready is when the branch's location snapshot
loaded at that commit is stored. Median seconds. It covers the stream noticing the branch,
the agent's git fetch and worktree, the location's load in its own interpreter, and the
snapshot's ingestion; not the HTTP hop of `assay ci` itself.

`diff_10k_ms`: the base snapshot is 200 pipelines of 50 assets (each asset reads 1-2
earlier assets of its pipeline, every 25th also one asset of the previous pipeline), a
third of them daily partitioned since 2023-01-01, with a check on every 10th asset. The
branch changes 500 assets across every change kind, adds 20 and removes 10; the number is
the median milliseconds of `diff_snapshots` (blast radius and cost included).

Prints one JSON line with exactly `ready_s` and `diff_10k_ms`.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIPELINES = 200
LENGTH = 50
CHANGES = 500
ROUNDS = 7
BRANCHES = int(os.environ.get("BENCH_BRANCHES", "5"))
AGENT = Path(sys.executable).with_name("assay-agent")
READY_TIMEOUT_SECONDS = 120.0
DEFS = """
from assay import Definitions, asset


@asset(code_version="{version}")
def orders() -> list:
    return [1, 2, 3]


@asset
def order_count(orders: list) -> int:
    return len(orders)


defs = Definitions(assets=[orders, order_count])
"""
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def base_snapshot():  # type: ignore[no-untyped-def]
    from assay import DailyPartitionsDefinition
    from assay.snapshot import SNAPSHOT_VERSION, AssetSnapshot, CheckSnapshot, DefinitionsSnapshot

    daily = DailyPartitionsDefinition(start_date="2023-01-01").to_snapshot()
    rng = random.Random(10_000)
    assets, checks = [], []
    for p in range(PIPELINES):
        for i in range(LENGTH):
            n = p * LENGTH + i
            deps = [f"a{p * LENGTH + j}" for j in rng.sample(range(i), min(i, rng.randint(1, 2)))]
            if p and i % 25 == 0:
                deps.append(f"a{(p - 1) * LENGTH + rng.randrange(LENGTH)}")
            assets.append(
                AssetSnapshot(
                    key=f"a{n}",
                    deps=sorted(deps),
                    group=f"g{p}",
                    owners=["team:data"],
                    tags={"tier": "gold"},
                    kinds=["python"],
                    description=None,
                    metadata={},
                    code_version="1",
                    is_external=False,
                    is_observable=False,
                    compute_name=f"a{n}",
                    partitions=daily if p % 3 == 0 else None,
                )
            )
            if n % 10 == 0:
                checks.append(CheckSnapshot(f"a{n}", "not_empty", False, None))
    return DefinitionsSnapshot(version=SNAPSHOT_VERSION, assets=assets, checks=checks, jobs=[])


def branch_snapshot(base):  # type: ignore[no-untyped-def]
    from assay.snapshot import CheckSnapshot

    rng = random.Random(500)
    assets = list(base.assets)
    checks = list(base.checks)
    edits = [
        lambda a: dataclasses.replace(a, code_version="2"),
        lambda a: dataclasses.replace(a, metadata={"rows": 1}),
        lambda a: dataclasses.replace(a, owners=["team:other"]),
        lambda a: dataclasses.replace(a, deps=a.deps[:-1]),
        lambda a: dataclasses.replace(a, automation_condition={"type": "eager"}),
    ]
    for n, i in enumerate(rng.sample(range(len(assets)), CHANGES)):
        if n % 6 == 5:
            checks.append(CheckSnapshot(assets[i].key, "fresh", True, None))
        else:
            assets[i] = edits[n % 6](assets[i])
    removed = {f"a{i * LENGTH + LENGTH - 1}" for i in range(10)}
    assets = [a for a in assets if a.key not in removed]
    assets += [dataclasses.replace(assets[0], key=f"new{i}", deps=["a0"]) for i in range(20)]
    return dataclasses.replace(base, assets=assets, checks=checks)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.email=b@x.test", "-c", "user.name=b", *args],
        cwd=repo, check=True, capture_output=True, text=True,
    ).stdout.strip()  # fmt: skip


def _commit(repo: Path, version: int) -> str:
    (repo / "defs.py").write_text(DEFS.format(version=version))
    _git(repo, "add", "-A")
    _git(repo, "commit", "--quiet", "-m", f"version {version}")
    return _git(repo, "rev-parse", "HEAD")


def _wait(predicate, what: str, log: Path):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + READY_TIMEOUT_SECONDS
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}; see {log}")
        time.sleep(0.02)
    return value


def ready_seconds() -> list[float]:
    """Seconds from create-or-update to the branch's snapshot stored, per pull request."""
    from bench.control_plane_env import throwaway_control_plane

    if not AGENT.exists():
        raise SystemExit(f"{AGENT} is not installed (pip install -e . in this environment)")
    work = Path(tempfile.mkdtemp(prefix="assay-bench-branches-"))
    repo = work / "acme" / "warehouse"
    repo.mkdir(parents=True)
    _git(repo, "init", "--quiet", "--initial-branch=main")
    prod_commit = _commit(repo, 0)
    log = work / "agent.log"
    processes: list[subprocess.Popen] = []
    with throwaway_control_plane(ASSAY_HOME=str(work / "home"), GRPC_VERBOSITY="ERROR"):
        from control_plane.branches import services as branches
        from control_plane.branches.models import BranchDeployment
        from control_plane.catalog.models import LocationSnapshot
        from control_plane.core.context import Principal, TenantContext, tenant_context
        from control_plane.tenancy import services
        from control_plane.tenancy.models import Deployment, User

        organization = services.create_organization(
            actor=Principal.system("bench"), slug="bench", name="Bench", admin_email="a@b.test"
        )
        admin = User.objects.get(email="a@b.test")
        ctx = TenantContext(organization=organization, principal=Principal.for_user(admin))
        try:
            with tenant_context(ctx):
                prod = Deployment.objects.get(name="prod")
                _, token = services.create_agent_token(ctx=ctx, name="bench", deployments=[prod])
            grpc_server = subprocess.Popen(
                [sys.executable, "-m", "control_plane", "grpc", "--port", "0"],
                stdout=subprocess.PIPE,
                text=True,
            )
            processes.append(grpc_server)
            assert grpc_server.stdout is not None
            address = grpc_server.stdout.readline().strip().rsplit("//", 1)[-1]
            (work / "assay.yaml").write_text(
                f"control_plane:\n  address: {address}\n  token: $ASSAY_AGENT_TOKEN\n"
                "  tls:\n    insecure: true\n"
                f"state_dir: {work / 'state'}\n"
                "deployments:\n  - prod\n"
                "code_locations:\n  - name: shop\n    file: defs.py\n"
                f"    git:\n      repo: {repo}\n      commit: {prod_commit}\n"
            )
            with open(log, "ab") as output:
                processes.append(
                    subprocess.Popen(
                        [str(AGENT), "run", "--config", str(work / "assay.yaml")],
                        stdout=output,
                        stderr=subprocess.STDOUT,
                        env={**os.environ, "ASSAY_AGENT_TOKEN": token},
                    )
                )
            with tenant_context(ctx):
                _wait(
                    lambda: (
                        LocationSnapshot.objects.filter(deployment=prod, is_current=True)
                        .exclude(snapshot_id="")
                        .exists()
                    ),
                    "prod's snapshot",
                    log,
                )
            seconds = []
            for number in range(1, BRANCHES + 1):
                commit = _commit(repo, number)
                with tenant_context(ctx):
                    start = time.monotonic()
                    branch, _ = branches.create_or_update(
                        ctx=ctx,
                        request=branches.BranchRequest(
                            repo="acme/warehouse",
                            pr_number=number,
                            branch=f"feature-{number}",
                            commit=commit,
                        ),
                    )
                    _wait(
                        lambda b=branch, c=commit: BranchDeployment.objects.filter(
                            pk=b.pk, loaded_commit=c
                        ).exists(),
                        f"pull request {number} loaded",
                        log,
                    )
                    seconds.append(time.monotonic() - start)
            return seconds
        finally:
            for process in reversed(processes):
                process.terminate()
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()


def main() -> None:
    from assay.branch_diff import diff_snapshots

    base = base_snapshot()
    branch = branch_snapshot(base)
    times = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        diff = diff_snapshots(base, branch, current_time=NOW)
        times.append((time.perf_counter() - start) * 1000)
    if len(diff.changed) < CHANGES - 20 or len(diff.new) != 20 or len(diff.removed) != 10:
        raise SystemExit(f"unexpected diff: {len(diff.changed)} changed")
    print(
        f"changed={len(diff.changed)} blast={len(diff.blast_radius)} "
        f"credits={diff.cost.credits_once}",
        file=sys.stderr,
    )
    ready = ready_seconds()
    print(f"ready_s per pull request: {[round(r, 2) for r in ready]}", file=sys.stderr)
    print(
        json.dumps(
            {
                "ready_s": round(statistics.median(ready), 2),
                "diff_10k_ms": round(statistics.median(times), 1),
            }
        )
    )


if __name__ == "__main__":
    main()
