"""Branch deployments: open or move one per pull request, close it, delete it after retention.

One service underneath both ways in (``assay ci`` with a CI token, and the GitHub webhook).
Every change is authorized, runs in one transaction and is audited there. A CI principal
(kind ``"ci"``) may do exactly what this module offers and nothing else: its token is not
an API token, so no other endpoint accepts it.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.branches import audit_actions as actions
from control_plane.branches.errors import BranchClosed, BranchNotFound, InvalidBranchRequest
from control_plane.branches.models import BranchDeployment, CiToken
from control_plane.core.context import Principal, TenantContext, activate, deactivate
from control_plane.core.errors import Forbidden
from control_plane.runs.models import TERMINAL_STATUSES, Run
from control_plane.tenancy.models import CodeLocation, Deployment, Organization
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action
from control_plane.tenancy.tokens import hash_token

CI_TOKEN_PREFIX = "assay_c_"
_COMMIT = re.compile(r"^[0-9a-fA-F]{7,64}$")
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


def retention() -> timedelta:
    return timedelta(days=getattr(settings, "BRANCH_RETENTION_DAYS", 7))


def idle_limit() -> timedelta:
    return timedelta(days=getattr(settings, "BRANCH_IDLE_DAYS", 14))


# --- CI tokens ---------------------------------------------------------------------------


def issue_ci_token(*, ctx: TenantContext, name: str) -> tuple[CiToken, str]:
    """A new CI token; the secret is returned once and only its hash is kept."""
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, ctx.organization)
    if not name or len(name) > 100:
        raise InvalidBranchRequest("a CI token needs a name of 1-100 characters")
    prefix_id = secrets.token_hex(8)
    secret = f"{CI_TOKEN_PREFIX}{prefix_id}_{secrets.token_urlsafe(32)}"
    with transaction.atomic():
        token = CiToken.objects.create(
            organization=ctx.organization,
            name=name,
            prefix_id=prefix_id,
            secret_hash=hash_token(secret),
            created_by=ctx.principal.user,
        )
        record_for(ctx, actions.CI_TOKEN_CREATE, token, after={"name": name, "prefix": prefix_id})
    return token, secret


def verify_ci_token(secret: str) -> CiToken | None:
    """The live token behind ``secret``, else None (deciding who calls precedes tenancy)."""
    if not secret.startswith(CI_TOKEN_PREFIX):
        return None
    prefix_id = secret[len(CI_TOKEN_PREFIX) :].split("_", 1)[0]
    token = CiToken.objects.unscoped().filter(prefix_id=prefix_id, revoked_at=None).first()
    if token is None or not secrets.compare_digest(token.secret_hash, hash_token(secret)):
        return None
    CiToken.objects.unscoped().filter(pk=token.pk).update(last_used_at=timezone.now())
    return token


def ci_principal(token: CiToken) -> Principal:
    return Principal(kind="ci", label=f"ci token {token.prefix_id} ({token.name})")


def webhook_principal() -> Principal:
    """Who acts for a verified GitHub delivery (the signature is its authentication)."""
    return Principal(kind="ci", label="github webhook")


def _authorize(ctx: TenantContext, obj: Deployment | Organization) -> None:
    """CI principals were checked against their organization when they authenticated."""
    if ctx.principal.kind == "ci" or ctx.principal.is_system:
        return
    if ctx.principal.kind != "user":
        raise Forbidden("only users and CI tokens manage branch deployments")
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, obj)


# --- create or update --------------------------------------------------------------------


@dataclass(frozen=True)
class BranchRequest:
    repo: str
    pr_number: int
    branch: str
    commit: str
    title: str = ""
    author: str = ""
    base: str = "prod"

    def validate(self) -> None:
        errors = []
        if not _REPO.match(self.repo or ""):
            errors.append("repo must look like 'owner/name'")
        if not isinstance(self.pr_number, int) or self.pr_number < 1:
            errors.append("pr must be a positive pull request number")
        if not self.branch or len(self.branch) > 255:
            errors.append("branch is required (at most 255 characters)")
        if not _COMMIT.match(self.commit or ""):
            errors.append("commit must be a hexadecimal git commit id")
        if len(self.title) > 300 or len(self.author) > 100:
            errors.append("title is at most 300 and author at most 100 characters")
        if errors:
            raise InvalidBranchRequest("; ".join(errors))


def deployment_name(repo: str, pr_number: int) -> str:
    """``<repo name>-pr-<n>``, a deployment slug of at most 63 characters."""
    slug = re.sub(r"[^a-z0-9]+", "-", repo.split("/")[-1].lower()).strip("-") or "repo"
    suffix = f"-pr-{pr_number}"
    return slug[: 63 - len(suffix)].rstrip("-") + suffix


def _fields(branch: BranchDeployment) -> dict:
    return {
        "repo": branch.repo,
        "pr": branch.pr_number,
        "branch": branch.branch,
        "commit": branch.commit,
        "status": branch.status,
        "deployment": branch.name,
    }


def create_or_update(*, ctx: TenantContext, request: BranchRequest) -> tuple[BranchDeployment, str]:
    """Open the PR's branch deployment, or move it to a new commit; idempotent.

    Returns the row and what happened: ``created``, ``updated`` (new commit or reopened) or
    ``unchanged`` (the same commit again: nothing written but the activity time).
    """
    request.validate()
    base = Deployment.objects.filter(name=request.base).first()
    if base is None:
        raise InvalidBranchRequest(f"base deployment {request.base!r} does not exist")
    _authorize(ctx, base)
    try:
        return _create_or_update(ctx, request, base)
    except IntegrityError:
        # Two deliveries for the same PR at once: the other one created it; update that.
        return _create_or_update(ctx, request, base)


def _create_or_update(
    ctx: TenantContext, request: BranchRequest, base: Deployment
) -> tuple[BranchDeployment, str]:
    now = timezone.now()
    with transaction.atomic():
        branch = (
            BranchDeployment.objects.select_for_update()
            .filter(repo=request.repo, pr_number=request.pr_number)
            .first()
        )
        if branch is None or branch.status == BranchDeployment.Status.DELETED:
            return _open(ctx, request, base, existing=branch, now=now), "created"
        before = _fields(branch)
        reopened = branch.status == BranchDeployment.Status.CLOSED
        if not reopened and branch.commit == request.commit:
            branch.last_activity_at = now
            branch.save(update_fields=["last_activity_at"])
            return branch, "unchanged"
        branch.commit = request.commit
        branch.branch = request.branch
        branch.title = request.title or branch.title
        branch.author = request.author or branch.author
        branch.status = BranchDeployment.Status.OPEN
        branch.closed_at = branch.delete_after = None
        branch.close_reason = ""
        branch.updated_at = branch.last_activity_at = now
        branch.save()
        record_for(ctx, actions.BRANCH_UPDATE, branch, before=before, after=_fields(branch))
        return branch, "updated"


def _open(
    ctx: TenantContext,
    request: BranchRequest,
    base: Deployment,
    *,
    existing: BranchDeployment | None,
    now: datetime,
) -> BranchDeployment:
    """A new branch deployment with the base's settings and code locations (no data)."""
    name = deployment_name(request.repo, request.pr_number)
    if Deployment.objects.filter(name=name).exists():
        raise InvalidBranchRequest(f"a deployment named {name!r} already exists")
    deployment = Deployment.objects.create(
        organization=ctx.organization,
        name=name,
        kind=Deployment.Kind.BRANCH,
        max_concurrent_runs=base.max_concurrent_runs,
        run_tag_limits=base.run_tag_limits,
    )
    CodeLocation.objects.bulk_create(
        [
            CodeLocation(
                organization=ctx.organization,
                deployment=deployment,
                name=location.name,
                module=location.module,
            )
            for location in CodeLocation.objects.filter(deployment=base).order_by("name")
        ]
    )
    branch = existing or BranchDeployment(
        organization=ctx.organization, repo=request.repo, pr_number=request.pr_number
    )
    branch.deployment = deployment
    branch.base = base
    branch.name = name
    branch.branch = request.branch
    branch.commit = request.commit
    branch.title = request.title
    branch.author = request.author
    branch.status = BranchDeployment.Status.OPEN
    branch.closed_at = branch.delete_after = None
    branch.close_reason = ""
    branch.created_at = branch.updated_at = branch.last_activity_at = now
    branch.save()
    record_for(ctx, actions.BRANCH_CREATE, branch, after=_fields(branch) | {"base": base.name})
    return branch


# --- close, delete, idle -----------------------------------------------------------------


def get_branch(*, repo: str | None = None, pr_number: int) -> BranchDeployment:
    rows = BranchDeployment.objects.filter(pr_number=pr_number)
    if repo:
        rows = rows.filter(repo=repo)
    found = list(rows.exclude(status=BranchDeployment.Status.DELETED)[:2])
    if not found:
        raise BranchNotFound(f"no branch deployment for pull request #{pr_number}")
    if len(found) > 1:
        raise InvalidBranchRequest(
            f"pull request #{pr_number} exists in several repos: name --repo"
        )
    return found[0]


def is_read_only(deployment: Deployment) -> bool:
    """A closed branch deployment keeps its catalog for reading only."""
    return BranchDeployment.objects.filter(
        deployment=deployment, status=BranchDeployment.Status.CLOSED
    ).exists()


def refuse_if_read_only(deployment: Deployment) -> None:
    """Called by ``runs.services.launch_run``: a closed branch deployment launches nothing."""
    if is_read_only(deployment):
        raise BranchClosed(
            f"branch deployment {deployment.name!r} is closed: read-only until it is deleted"
        )


def close(*, ctx: TenantContext, branch: BranchDeployment, reason: str = "closed") -> dict:
    """Terminate the branch's runs, unload its locations, keep it read-only until deletion.

    Closing a closed branch changes nothing (a redelivered ``closed`` event is harmless).
    """
    if branch.deployment is None:
        raise BranchNotFound(f"{branch} was already deleted")
    _authorize(ctx, branch.deployment)
    from control_plane.runs.services import terminate_run

    with transaction.atomic():
        branch = BranchDeployment.objects.select_for_update().get(pk=branch.pk)
        if branch.status != BranchDeployment.Status.OPEN:
            return {"status": branch.status, "terminated_runs": 0, "unloaded_locations": []}
        now = timezone.now()
        before = _fields(branch)
        # The actor was authorized above; the runs are ended on its behalf.
        system = TenantContext(
            organization=ctx.organization,
            principal=Principal.system(f"branch close by {ctx.principal.label}"),
            deployment=branch.deployment,
        )
        open_runs = Run.objects.filter(deployment=branch.deployment).exclude(
            status__in=TERMINAL_STATUSES
        )
        terminated = 0
        for run in open_runs.select_for_update():
            terminate_run(ctx=system, run=run, reason=f"branch deployment {reason}")
            terminated += 1
        locations = sorted(
            CodeLocation.objects.filter(deployment=branch.deployment).values_list("name", flat=True)
        )
        branch.status = BranchDeployment.Status.CLOSED
        branch.closed_at = branch.updated_at = now
        branch.delete_after = now + retention()
        branch.close_reason = reason
        branch.save()
        result = {
            "status": branch.status,
            "terminated_runs": terminated,
            "unloaded_locations": locations,
            "delete_after": branch.delete_after.isoformat(),
        }
        record_for(ctx, actions.BRANCH_CLOSE, branch, before=before, after=_fields(branch) | result)
    return result


def delete_expired(*, now: datetime | None = None) -> int:
    """Delete the deployments of branches closed longer than the retention period."""
    now = now or timezone.now()
    done = 0
    due = BranchDeployment.objects.unscoped().filter(
        status=BranchDeployment.Status.CLOSED, delete_after__lte=now
    )
    for org_id, pk in list(due.values_list("organization_id", "pk")):
        with system_context(org_id, "branch retention") as ctx, transaction.atomic():
            branch = (
                BranchDeployment.objects.select_for_update(skip_locked=True)
                .filter(pk=pk, status=BranchDeployment.Status.CLOSED)
                .first()
            )
            if branch is None:
                continue
            before = _fields(branch)
            deployment = branch.deployment
            branch.status = BranchDeployment.Status.DELETED
            branch.deployment = None
            branch.updated_at = now
            branch.save()
            if deployment is not None:
                deployment.delete()
            record_for(ctx, actions.BRANCH_DELETE, branch, before=before, after=_fields(branch))
            done += 1
    return done


def close_idle(*, now: datetime | None = None) -> int:
    """Close open branches with no activity (updates, runs) for the idle limit."""
    now = now or timezone.now()
    cutoff = now - idle_limit()
    candidates = BranchDeployment.objects.unscoped().filter(
        status=BranchDeployment.Status.OPEN, last_activity_at__lt=cutoff
    )
    done = 0
    for org_id, pk in list(candidates.values_list("organization_id", "pk")):
        with system_context(org_id, "branch idle limit") as ctx:
            branch = BranchDeployment.objects.get(pk=pk)
            latest_run = (
                Run.objects.filter(deployment=branch.deployment)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if latest_run is not None and latest_run >= cutoff:
                BranchDeployment.objects.filter(pk=pk).update(last_activity_at=latest_run)
                continue
            close(ctx=ctx, branch=branch, reason="idle")
            done += 1
    return done


def tick_branches() -> int:
    """The daemon's ``branches`` loop: close idle branches, delete expired ones."""
    return close_idle() + delete_expired()


def deploy(*, ctx: TenantContext, commit: str, base: str = "prod") -> Deployment:
    """Record that ``commit`` is deployed to the base deployment (``assay ci deploy``)."""
    if not _COMMIT.match(commit or ""):
        raise InvalidBranchRequest("commit must be a hexadecimal git commit id")
    deployment = Deployment.objects.filter(name=base).first()
    if deployment is None:
        raise InvalidBranchRequest(f"deployment {base!r} does not exist")
    if deployment.kind != Deployment.Kind.PROD:
        raise InvalidBranchRequest("assay ci deploy targets the prod deployment")
    _authorize(ctx, deployment)
    with transaction.atomic():
        record_for(ctx, actions.BRANCH_DEPLOY, deployment, after={"commit": commit})
    return deployment


class system_context:
    """The tenant context of one organization for the daemon's own actions."""

    def __init__(self, organization_id: int, label: str) -> None:
        self.organization = Organization.objects.get(pk=organization_id)
        self.ctx = TenantContext(organization=self.organization, principal=Principal.system(label))

    def __enter__(self) -> TenantContext:
        self._token = activate(self.ctx)
        return self.ctx

    def __exit__(self, *exc: object) -> None:
        deactivate(self._token)
