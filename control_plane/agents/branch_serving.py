"""Which branch deployments an agent's stream serves, decided by the control plane.

An agent that says ``serves_branches`` in its hello serves, besides its own deployments,
every open branch deployment based on one of them, at the pull request's head commit. The
stream tells it the complete set (``ServeBranches``) after welcome and whenever the set or
a commit changes; the session's ``deployment_ids`` grow and shrink with it, so the dequeuer,
ticks, reloads and ingest treat a served branch like any deployment of the agent. Branch
deployments need no agent token of their own: the token covers the base.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from control_plane.agents.models import AgentSession
from control_plane.branches.models import BranchDeployment


@dataclass(frozen=True)
class ServedBranch:
    deployment_id: int
    deployment_name: str
    base_name: str
    commit: str
    repo: str


def branches_to_serve(*, base_ids: list[int]) -> dict[str, ServedBranch]:
    """The open branch deployments based on ``base_ids``, by deployment name."""
    rows = (
        BranchDeployment.objects.filter(
            base_id__in=base_ids,
            status=BranchDeployment.Status.OPEN,
            deployment__isnull=False,
        )
        .select_related("deployment", "base")
        .order_by("name")
    )
    return {
        row.name: ServedBranch(
            deployment_id=row.deployment.pk,
            deployment_name=row.deployment.name,
            base_name=row.base.name,
            commit=row.commit,
            repo=row.repo,
        )
        for row in rows
        if row.deployment is not None
    }


def serve(*, session: AgentSession, base_ids: list[int], branches: dict[str, ServedBranch]) -> None:
    """Record that the session now serves its bases and exactly ``branches``."""
    ids = list(base_ids) + [b.deployment_id for b in branches.values()]
    session.deployment_ids = ids
    AgentSession.objects.filter(pk=session.pk).update(deployment_ids=ids)


def loaded(branch: ServedBranch) -> None:
    """The agent sent a snapshot of the branch at the commit it was told to serve."""
    BranchDeployment.objects.filter(deployment_id=branch.deployment_id).update(
        loaded_commit=branch.commit, loaded_at=timezone.now()
    )
