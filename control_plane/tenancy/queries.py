"""Reads shared by the API, commands and later apps. All go through scoped managers."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from control_plane.core.context import Principal
from control_plane.tenancy.errors import ObjectNotFound, OrganizationNotFound
from control_plane.tenancy.models import (
    ApiToken,
    CodeLocation,
    Deployment,
    Membership,
    Organization,
    RoleGrant,
    Team,
)
from control_plane.tenancy.permissions import is_allowed, visible, within_token
from control_plane.tenancy.roles import Action


def organization_for_principal(*, slug: str, principal: Principal) -> Organization:
    """The organization ``slug`` if ``principal`` belongs to it; otherwise ``NotFound``.

    Other organizations answer exactly like missing ones, so existence does not leak.
    """
    organization = Organization.objects.filter(slug=slug).first()
    if organization is None:
        raise OrganizationNotFound("organization not found")
    if principal.is_system:
        return organization
    if principal.token is not None and principal.token.organization_id != organization.pk:
        raise OrganizationNotFound("organization not found")
    if principal.kind != "user" or principal.user is None:
        raise OrganizationNotFound("organization not found")
    is_member = (
        Membership.objects.unscoped()  # deciding membership precedes the tenant context
        .filter(organization=organization, user=principal.user)
        .exists()
    )
    if not is_member:
        raise OrganizationNotFound("organization not found")
    return organization


def organizations_of(principal: Principal) -> QuerySet[Organization]:
    if principal.token is not None:
        return Organization.objects.filter(pk=principal.token.organization_id)
    return Organization.objects.filter(
        pk__in=Membership.objects.unscoped().filter(user=principal.user).values("organization_id")
    ).order_by("slug")


def _get(queryset: QuerySet, what: str, **lookup):
    obj = queryset.filter(**lookup).first()
    if obj is None:
        raise ObjectNotFound(f"{what} not found")
    return obj


def get_deployment(*, name: str) -> Deployment:
    return _get(Deployment.objects.select_related("organization"), "deployment", name=name)


def deployments_visible_to(principal: Principal, organization: Organization) -> QuerySet:
    """Deployments the principal can view, or view one of the code locations of (a grant
    at code-location scope makes that location's deployment listed, scoped to it)."""
    queryset = Deployment.objects.select_related("organization").order_by("id")
    if is_allowed(principal, Action.VIEW, organization):
        return within_token(principal, queryset)
    granted = visible(principal, Deployment.objects.all()).values("pk")
    through_locations = visible(principal, CodeLocation.objects.all()).values("deployment_id")
    return queryset.filter(Q(pk__in=granted) | Q(pk__in=through_locations))


def readable_location_ids(principal: Principal, deployment: Deployment) -> frozenset[int] | None:
    """What of ``deployment`` the principal may read: ``None`` for all of it, else the ids of
    the code locations granted one by one (empty: nothing). Pages and endpoints about a
    deployment narrow their assets and runs to these locations."""
    if is_allowed(principal, Action.VIEW, deployment):
        return None
    return frozenset(
        visible(principal, CodeLocation.objects.filter(deployment=deployment)).values_list(
            "pk", flat=True
        )
    )


def get_code_location(*, deployment: Deployment, name: str) -> CodeLocation:
    return _get(
        CodeLocation.objects.select_related("deployment", "organization"),
        "code location",
        deployment=deployment,
        name=name,
    )


def code_locations_visible_to(principal: Principal, deployment: Deployment) -> QuerySet:
    queryset = CodeLocation.objects.filter(deployment=deployment).select_related(
        "deployment", "organization"
    )
    if is_allowed(principal, Action.VIEW, deployment):
        return queryset
    return visible(principal, queryset)


def get_membership(*, membership_id: int) -> Membership:
    return _get(Membership.objects.select_related("user"), "member", pk=membership_id)


def members() -> QuerySet[Membership]:
    return Membership.objects.select_related("user")


def get_team(*, team_id: int) -> Team:
    return _get(Team.objects.select_related("group"), "team", pk=team_id)


def teams() -> QuerySet[Team]:
    return Team.objects.select_related("group")


GRANT_RELATED = ("organization", "user", "team", "deployment", "code_location__deployment")


def get_grant(*, grant_id: int) -> RoleGrant:
    return _get(RoleGrant.objects.select_related(*GRANT_RELATED), "grant", pk=grant_id)


def grants() -> QuerySet[RoleGrant]:
    return RoleGrant.objects.select_related(*GRANT_RELATED)


def get_token(*, queryset: QuerySet[ApiToken], token_id: int) -> ApiToken:
    return _get(queryset, "token", pk=token_id)


def tokens_visible_to(principal: Principal, organization: Organization) -> QuerySet[ApiToken]:
    queryset = ApiToken.objects.select_related("user", "deployment").prefetch_related("deployments")
    if is_allowed(principal, Action.MANAGE_TOKENS, organization):
        return queryset
    return queryset.filter(user=principal.user)
