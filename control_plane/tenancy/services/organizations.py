"""Creating and renaming organizations."""

from __future__ import annotations

from django.db import transaction

from control_plane.audit.services import record_for
from control_plane.core.context import Principal, TenantContext, tenant_context
from control_plane.tenancy.errors import DuplicateName
from control_plane.tenancy.models import Deployment, Membership, Organization, RoleGrant
from control_plane.tenancy.permissions import authorize, grant_role_to_guardian
from control_plane.tenancy.roles import Action, Role
from control_plane.tenancy.services._shared import save_unique, snapshot
from control_plane.tenancy.services.members import get_or_create_user
from control_plane.tenancy.validation import (
    EMAIL,
    ORGANIZATION_NAME_MAX,
    ORGANIZATION_SLUG_MAX,
    SLUG_RULE,
    check,
    required_text,
)

ORGANIZATION_FIELDS = ("slug", "name", "plan")


def create_organization(
    *, actor: Principal, slug: str, name: str, admin_email: str, plan: str = "starter"
) -> Organization:
    """A new organization with its ``prod`` deployment and ``admin_email`` as Org Admin."""
    check(
        slug=(slug, required_text(ORGANIZATION_SLUG_MAX, SLUG_RULE)),
        name=(name, required_text(ORGANIZATION_NAME_MAX)),
        admin_email=(admin_email, EMAIL),
    )
    with transaction.atomic():
        if Organization.objects.filter(slug=slug).exists():
            raise DuplicateName(f"an organization with slug {slug!r} already exists")
        organization = Organization(slug=slug, name=name, plan=plan)
        save_unique(organization, f"an organization with slug {slug!r} already exists")
        ctx = TenantContext(organization=organization, principal=actor)
        with tenant_context(ctx):
            Deployment.objects.create(
                organization=organization, name="prod", kind=Deployment.Kind.PROD
            )
            user = get_or_create_user(email=admin_email)
            Membership.objects.create(organization=organization, user=user)
            grant = RoleGrant.objects.create(
                organization=organization,
                role=Role.ORG_ADMIN,
                user=user,
                grantee_key=f"user:{user.pk}",
                scope_key="organization",
            )
            grant_role_to_guardian(grant)
            record_for(
                ctx,
                "organization.create",
                organization,
                after={**snapshot(organization, ORGANIZATION_FIELDS), "admin": user.email},
            )
    return organization


def update_organization(*, ctx: TenantContext, name: str | None = None) -> Organization:
    organization = ctx.organization
    authorize(ctx.principal, Action.MANAGE_MEMBERS, organization)
    with transaction.atomic():
        before = snapshot(organization, ORGANIZATION_FIELDS)
        if name is not None:
            organization.name = name
        organization.save()
        record_for(
            ctx,
            "organization.update",
            organization,
            before=before,
            after=snapshot(organization, ORGANIZATION_FIELDS),
        )
    return organization
