"""GitHub: the per-organization ``pull_request`` webhook and the PR comment it keeps current.

A delivery is verified first (HMAC-SHA256 of the raw body with the organization's secret,
compared with ``hmac.compare_digest``); an unsigned or forged one is refused before
anything is read or written. A verified one is recorded by its delivery id in the same
transaction that acts on it, so a replay is refused and a delivery is handled once.
The comment is created once per pull request and edited afterwards; it is written after
the transaction commits, so a slow GitHub never holds a database lock.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.error
import urllib.request
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.branches import audit_actions as actions
from control_plane.branches import services
from control_plane.branches.diff import branch_diff
from control_plane.branches.errors import InvalidBranchRequest
from control_plane.branches.models import (
    BranchDeployment,
    GitHubIntegration,
    PullRequestComment,
    WebhookDelivery,
)
from control_plane.branches.secrets import decrypt, encrypt
from control_plane.catalog.models import LocationSnapshot
from control_plane.core.context import TenantContext
from control_plane.core.errors import Conflict, Forbidden
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action

log = logging.getLogger(__name__)
HANDLED_ACTIONS = {"opened", "synchronize", "reopened", "closed"}
COMMENT_MARKER = "<!-- assay-branch-deployment -->"


class SignatureRefused(Forbidden):
    pass


class DeliveryReplayed(Conflict):
    pass


def configure(
    *,
    ctx: TenantContext,
    webhook_secret: str,
    api_token: str = "",
    api_url: str = "https://api.github.com",
    console_url: str = "",
) -> GitHubIntegration:
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, ctx.organization)
    if len(webhook_secret) < 16:
        raise InvalidBranchRequest("the webhook secret needs at least 16 characters")
    with transaction.atomic():
        row = GitHubIntegration.objects.filter().first() or GitHubIntegration(
            organization=ctx.organization
        )
        row.webhook_secret = encrypt(webhook_secret)
        row.api_token = encrypt(api_token)
        row.api_url = api_url.rstrip("/")
        row.console_url = console_url.rstrip("/")
        row.updated_at = timezone.now()
        row.save()
        record_for(
            ctx,
            actions.GITHUB_CONFIGURE,
            row,
            after={
                "api_url": row.api_url,
                "console_url": row.console_url,
                "comments": bool(api_token),
            },
        )
    return row


def verify_signature(integration: GitHubIntegration, body: bytes, header: str) -> None:
    expected = (
        "sha256="
        + hmac.new(decrypt(integration.webhook_secret).encode(), body, hashlib.sha256).hexdigest()
    )
    if not header or not hmac.compare_digest(expected, header):
        raise SignatureRefused("the X-Hub-Signature-256 signature does not match")


def handle_delivery(
    *, ctx: TenantContext, body: bytes, signature: str, event: str, delivery_id: str
) -> dict[str, Any]:
    """Verify, record and act on one delivery; ``ctx`` is the organization's, unauthenticated."""
    integration = GitHubIntegration.objects.filter().first()
    if integration is None:
        raise SignatureRefused("this organization has no GitHub webhook configured")
    verify_signature(integration, body, signature)
    if not delivery_id or len(delivery_id) > 100:
        raise InvalidBranchRequest("X-GitHub-Delivery is required")
    try:
        payload = json.loads(body)
    except ValueError:
        raise InvalidBranchRequest("the delivery is not JSON") from None
    action = str(payload.get("action", ""))[:50] if isinstance(payload, dict) else ""
    actor = TenantContext(
        organization=ctx.organization,
        principal=services.webhook_principal(),
        ip=ctx.ip,
        user_agent=ctx.user_agent,
    )
    try:
        with transaction.atomic():
            delivery = WebhookDelivery.objects.create(
                organization=ctx.organization, delivery_id=delivery_id, event=event, action=action
            )
            branch, outcome = _act(actor, event, action, payload)
            delivery.outcome = outcome
            delivery.save(update_fields=["outcome"])
    except IntegrityError:
        raise DeliveryReplayed(f"delivery {delivery_id} was already handled") from None
    if branch is not None and outcome in {"created", "updated", "unchanged"}:
        sync_comment(branch)  # after the commit above: GitHub's latency holds no lock
    return {"delivery": delivery_id, "outcome": outcome}


def _act(
    ctx: TenantContext, event: str, action: str, payload: Any
) -> tuple[BranchDeployment | None, str]:
    if event == "ping":
        return None, "pong"
    if event != "pull_request" or action not in HANDLED_ACTIONS:
        return None, f"ignored {event}.{action}"
    try:
        pr = payload["pull_request"]
        repo = payload["repository"]["full_name"]
        number = int(payload.get("number") or pr["number"])
        request = services.BranchRequest(
            repo=repo,
            pr_number=number,
            branch=pr["head"]["ref"],
            commit=pr["head"]["sha"],
            title=pr.get("title") or "",
            author=(pr.get("user") or {}).get("login", ""),
            base="prod",
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidBranchRequest("not a pull_request payload GitHub sends") from None
    if action == "closed":
        branch = services.get_branch(repo=repo, pr_number=number)
        services.close(ctx=ctx, branch=branch)
        return branch, "closed"
    branch, outcome = services.create_or_update(ctx=ctx, request=request)
    return branch, outcome


# --- the PR comment --------------------------------------------------------------------


def comment_body(branch: BranchDeployment, console_url: str) -> str:
    diff, state = branch_diff(branch)
    link = f"{console_url}/o/{branch.organization.slug}/d/{branch.name}/branch/"
    lines = [
        COMMENT_MARKER,
        f"**Assay branch deployment** [`{branch.name}`]({link}) at `{branch.commit[:12]}`",
        "",
    ]
    if state["location_errors"]:
        for name, error in sorted(state["location_errors"].items()):
            lines.append(f"- :x: location `{name}` failed to load: {error}")
    if diff is None or state["loading"]:
        lines.append("Waiting for the agent to load the branch's code locations.")
        return "\n".join(lines)
    if diff.is_empty:
        lines.append("No asset changes against the base deployment.")
        return "\n".join(lines)
    lines += ["| asset | change | downstream in prod |", "| --- | --- | --- |"]
    for change in (*diff.new, *diff.changed, *diff.removed):
        kinds = ", ".join(change.kinds) if change.kinds else change.status
        asset_link = f"{link}?asset={change.key}"
        lines.append(f"| [`{change.key}`]({asset_link}) | {kinds} | {len(change.blast_radius)} |")
    cost = diff.cost
    lines += [
        "",
        f"Materializing the changed assets and their downstream once: **{cost.credits_once} "
        f"credits** ({cost.assets} assets; {cost.credits_for_partition_range(1)} per partition).",
    ]
    return "\n".join(lines)


def sync_comment(branch: BranchDeployment) -> str:
    """Create the PR's comment, or edit it if its text changed. Returns what it did."""
    integration = GitHubIntegration.objects.filter().first()
    if integration is None or not integration.api_token:
        return "no integration"
    body = comment_body(branch, integration.console_url)
    digest = hashlib.sha256(body.encode()).hexdigest()
    existing = PullRequestComment.objects.filter(branch=branch).first()
    if existing is not None and existing.body_sha256 == digest:
        PullRequestComment.objects.filter(pk=existing.pk).update(updated_at=timezone.now())
        return "unchanged"
    token = decrypt(integration.api_token)
    try:
        if existing is None:
            answer = _github(
                "POST",
                f"{integration.api_url}/repos/{branch.repo}/issues/{branch.pr_number}/comments",
                token,
                {"body": body},
            )
            PullRequestComment.objects.create(
                organization=branch.organization,
                branch=branch,
                comment_id=int(answer["id"]),
                body_sha256=digest,
            )
            return "created"
        _github(
            "PATCH",
            f"{integration.api_url}/repos/{branch.repo}/issues/comments/{existing.comment_id}",
            token,
            {"body": body},
        )
    except (urllib.error.URLError, OSError, KeyError, ValueError) as exc:
        log.warning("PR comment for %s not written: %s", branch, exc)
        return "failed"
    existing.body_sha256 = digest
    existing.updated_at = timezone.now()
    existing.save(update_fields=["body_sha256", "updated_at"])
    return "edited"


def refresh_comments() -> int:
    """The daemon's ``branch_comments`` loop: sync the comment of every open branch whose
    code locations loaded (a new snapshot, or the agent's load of a push even when no
    definition changed) since its comment was last written or checked. A push's comment is
    written when the push arrives, before the agent has loaded the new commit; this is what
    then fills in the diff. Returns the comments created or edited."""
    written = 0
    organizations = (
        GitHubIntegration.objects.unscoped().exclude(api_token="").values_list("organization_id")
    )
    for (organization_id,) in organizations:
        with services.system_context(organization_id, "branch comments"):
            for branch in BranchDeployment.objects.filter(
                status=BranchDeployment.Status.OPEN, deployment__isnull=False
            ).select_related("organization"):
                received = LocationSnapshot.objects.filter(
                    deployment=branch.deployment, is_current=True
                ).aggregate(latest=Max("received_at"))["latest"]
                loaded = max(filter(None, (received, branch.loaded_at)), default=None)
                comment = PullRequestComment.objects.filter(branch=branch).first()
                if loaded is None or (comment is not None and comment.updated_at >= loaded):
                    continue
                written += sync_comment(branch) in {"created", "edited"}
    return written


def _github(method: str, url: str, token: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode(),
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "Content-Type": "application/json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.loads(response.read() or b"null")
