"""Creating, changing and deleting deployments."""

from __future__ import annotations

from typing import Any

from django.db import transaction

from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext
from control_plane.tenancy.errors import ProtectedObject
from control_plane.tenancy.models import ApiToken, CodeLocation, Deployment
from control_plane.tenancy.permissions import authorize, forget_object_permissions
from control_plane.tenancy.roles import Action
from control_plane.tenancy.services._shared import save_unique, snapshot
from control_plane.tenancy.services.api_tokens import revoke_token

DEPLOYMENT_FIELDS = ("name", "kind", "max_concurrent_runs", "run_tag_limits")


def create_deployment(
    *, ctx: TenantContext, name: str, max_concurrent_runs: int | None = None
) -> Deployment:
    """A branch deployment (``prod`` exists from the organization's creation)."""
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, ctx.organization)
    with transaction.atomic():
        deployment = Deployment(organization=ctx.organization, name=name, kind="branch")
        if max_concurrent_runs is not None:
            deployment.max_concurrent_runs = max_concurrent_runs
        save_unique(deployment, f"a deployment named {name!r} already exists")
        record_for(
            ctx, "deployment.create", deployment, after=snapshot(deployment, DEPLOYMENT_FIELDS)
        )
    return deployment


def update_deployment(
    *,
    ctx: TenantContext,
    deployment: Deployment,
    max_concurrent_runs: int | None = None,
    run_tag_limits: list[dict[str, Any]] | None = None,
) -> Deployment:
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, deployment)
    with transaction.atomic():
        before = snapshot(deployment, DEPLOYMENT_FIELDS)
        if max_concurrent_runs is not None:
            deployment.max_concurrent_runs = max_concurrent_runs
        if run_tag_limits is not None:
            deployment.run_tag_limits = run_tag_limits
        deployment.save()
        record_for(
            ctx,
            "deployment.update",
            deployment,
            before=before,
            after=snapshot(deployment, DEPLOYMENT_FIELDS),
        )
    return deployment


def delete_deployment(*, ctx: TenantContext, deployment: Deployment) -> None:
    authorize(ctx.principal, Action.MANAGE_DEPLOYMENT, deployment)
    if deployment.kind == Deployment.Kind.PROD:
        raise ProtectedObject("the prod deployment cannot be deleted")
    with transaction.atomic():
        before = snapshot(deployment, DEPLOYMENT_FIELDS)
        record_for(ctx, "deployment.delete", deployment, before=before)
        # Tokens narrowed to it go with it: revoke each first, so the audit log says so.
        for token in ApiToken.objects.filter(deployment=deployment, revoked_at__isnull=True):
            revoke_token(ctx=ctx, token=token)
        forget_object_permissions(
            [deployment, *CodeLocation.objects.filter(deployment=deployment).only("pk")]
        )
        deployment.delete()
