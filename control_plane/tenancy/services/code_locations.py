"""Registering, changing and removing code locations."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from control_plane.audit.services import record_for
from control_plane.core import hooks
from control_plane.core.context import TenantContext
from control_plane.tenancy.models import CodeLocation, Deployment
from control_plane.tenancy.permissions import authorize, forget_object_permissions
from control_plane.tenancy.roles import Action
from control_plane.tenancy.services._shared import save_unique, snapshot

CODE_LOCATION_FIELDS = ("name", "module")


def create_code_location(
    *, ctx: TenantContext, deployment: Deployment, name: str, module: str = ""
) -> CodeLocation:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, deployment)
    with transaction.atomic():
        hooks.check_limit(ctx, "code_location")
        location = CodeLocation(
            organization=ctx.organization, deployment=deployment, name=name, module=module
        )
        save_unique(location, f"a code location named {name!r} already exists in {deployment}")
        record_for(
            ctx,
            "code_location.create",
            location,
            after={**snapshot(location, CODE_LOCATION_FIELDS), "deployment": deployment.name},
        )
    return location


def update_code_location(
    *, ctx: TenantContext, location: CodeLocation, module: str | None = None
) -> CodeLocation:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, location)
    with transaction.atomic():
        before = snapshot(location, CODE_LOCATION_FIELDS)
        if module is not None:
            location.module = module
        location.updated_at = timezone.now()
        location.save()
        record_for(
            ctx,
            "code_location.update",
            location,
            before=before,
            after=snapshot(location, CODE_LOCATION_FIELDS),
        )
    return location


def delete_code_location(*, ctx: TenantContext, location: CodeLocation) -> None:
    authorize(ctx.principal, Action.MANAGE_CODE_LOCATION, location)
    with transaction.atomic():
        record_for(
            ctx, "code_location.delete", location, before=snapshot(location, CODE_LOCATION_FIELDS)
        )
        forget_object_permissions([location])
        location.delete()
