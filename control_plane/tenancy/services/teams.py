"""Teams (auth groups) and who is in them."""

from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import transaction

from control_plane.audit.services import record_for
from control_plane.core.context import TenantContext
from control_plane.tenancy.errors import AlreadyInTeam, DuplicateName, ObjectNotFound
from control_plane.tenancy.models import Membership, RoleGrant, Team
from control_plane.tenancy.permissions import authorize, revoke_role_from_guardian
from control_plane.tenancy.roles import Action
from control_plane.tenancy.services._shared import save_unique


def create_team(*, ctx: TenantContext, name: str) -> Team:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if Team.objects.filter(name=name).exists():
            raise DuplicateName(f"a team named {name!r} already exists")
        group = Group.objects.create(name=f"org{ctx.organization.pk}:{name}")
        team = Team(organization=ctx.organization, name=name, group=group)
        save_unique(team, f"a team named {name!r} already exists")
        record_for(ctx, "team.create", team, after={"name": name})
    return team


def update_team(*, ctx: TenantContext, team: Team, name: str) -> Team:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        before = {"name": team.name}
        team.name = name
        save_unique(team, f"a team named {name!r} already exists")
        team.group.name = f"org{ctx.organization.pk}:{name}"
        team.group.save()
        record_for(ctx, "team.update", team, before=before, after={"name": name})
    return team


def delete_team(*, ctx: TenantContext, team: Team) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        for grant in RoleGrant.objects.filter(team=team).select_related(
            "organization", "deployment", "code_location", "team__group"
        ):
            revoke_role_from_guardian(grant)
            grant.delete()
        record_for(ctx, "team.delete", team, before={"name": team.name})
        group = team.group
        team.delete()
        group.delete()


def add_team_member(*, ctx: TenantContext, team: Team, membership: Membership) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if team.group.user_set.filter(pk=membership.user_id).exists():
            raise AlreadyInTeam(f"{membership.user.email} is already in team {team.name!r}")
        team.group.user_set.add(membership.user)
        record_for(ctx, "team.member_add", team, after={"member": membership.user.email})


def remove_team_member(*, ctx: TenantContext, team: Team, membership: Membership) -> None:
    authorize(ctx.principal, Action.MANAGE_TEAMS, ctx.organization)
    with transaction.atomic():
        if not team.group.user_set.filter(pk=membership.user_id).exists():
            raise ObjectNotFound(f"{membership.user.email} is not in team {team.name!r}")
        team.group.user_set.remove(membership.user)
        record_for(ctx, "team.member_remove", team, before={"member": membership.user.email})
