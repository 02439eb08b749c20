"""``/api/v1/orgs/{org}/teams/{id}/default-roles/``: a team's default role on production
and on branch deployments (read: any member; change: ``manage_teams``)."""

from __future__ import annotations

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from control_plane.core.api.views import OrganizationScopedView
from control_plane.sso import team_roles
from control_plane.tenancy import queries
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action, Role

ROLE_SLUGS = [role.slug for role in Role]


class DefaultRolesSerializer(serializers.Serializer):
    """Each kind maps to a role slug, or null for no default; an absent kind is unchanged."""

    prod = serializers.ChoiceField(choices=ROLE_SLUGS, allow_null=True, required=False)
    branch = serializers.ChoiceField(choices=ROLE_SLUGS, allow_null=True, required=False)


def _answer(team) -> dict:
    return {
        kind: role.slug if role else None for kind, role in team_roles.default_roles(team).items()
    }


class TeamDefaultRolesView(OrganizationScopedView):
    serializer_class = DefaultRolesSerializer

    def resolve(self, *, team_id, **kwargs):
        self.team = queries.get_team(team_id=team_id)

    def get(self, request, org, team_id):
        authorize(self.ctx.principal, Action.VIEW, self.ctx.organization)
        return Response(_answer(self.team))

    @extend_schema(request=DefaultRolesSerializer, responses=DefaultRolesSerializer)
    def put(self, request, org, team_id):
        data = self.read(DefaultRolesSerializer)
        with transaction.atomic():  # both kinds or neither
            for kind, slug in data.items():
                role = Role.from_slug(slug) if slug else None
                team_roles.set_default_role(
                    ctx=self.ctx, team=self.team, deployment_kind=kind, role=role
                )
        return Response(_answer(self.team))
