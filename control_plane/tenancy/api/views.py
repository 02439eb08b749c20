"""Thin REST adapters over ``tenancy.services`` and ``tenancy.queries``."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.generics import GenericAPIView
from rest_framework.response import Response

from control_plane.core.api.pagination import IdCursorPagination
from control_plane.core.api.views import DeploymentScopedView, OrganizationScopedView
from control_plane.core.context import Principal
from control_plane.tenancy import queries, services
from control_plane.tenancy.api import serializers as s
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action, Role


class _Base(OrganizationScopedView):
    """A view in one organization. ``read_action`` is what a GET needs, on ``read_target()``
    (the organization unless the view names another), declared once per view and checked
    before the handler runs. ``None``: the handler lists only what the caller may see."""

    read_action: Action | None = None

    def read_target(self) -> object:
        return self.ctx.organization

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)  # the tenant context and URL objects
        if self.read_action is not None and request.method in ("GET", "HEAD"):
            authorize(self.principal, self.read_action, self.read_target())

    def paginated(self, queryset, serializer_class) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    @property
    def principal(self) -> Principal:
        return self.ctx.principal


class OrganizationListView(GenericAPIView):
    """Organizations the caller belongs to (a token sees only its own)."""

    serializer_class = s.OrganizationSerializer
    pagination_class = IdCursorPagination

    @extend_schema(responses=s.OrganizationSerializer(many=True))
    def get(self, request):
        principal = request.principal
        page = self.paginate_queryset(queries.organizations_of(principal))
        return self.get_paginated_response(s.OrganizationSerializer(page, many=True).data)


class OrganizationDetailView(_Base):
    serializer_class = s.OrganizationSerializer
    read_action = None  # every member sees their organization (resolving it checked that)

    def get(self, request, org):
        return Response(s.OrganizationSerializer(self.ctx.organization).data)

    @extend_schema(request=s.OrganizationUpdateSerializer)
    def patch(self, request, org):
        data = self.read(s.OrganizationUpdateSerializer)
        organization = services.update_organization(ctx=self.ctx, **data)
        return Response(s.OrganizationSerializer(organization).data)


class DeploymentListView(_Base):
    serializer_class = s.DeploymentSerializer
    pagination_class = IdCursorPagination
    read_action = None  # lists only the deployments the caller may view

    @extend_schema(responses=s.DeploymentSerializer(many=True))
    def get(self, request, org):
        return self.paginated(
            queries.deployments_visible_to(self.principal, self.ctx.organization),
            s.DeploymentSerializer,
        )

    @extend_schema(request=s.DeploymentCreateSerializer, responses={201: s.DeploymentSerializer})
    def post(self, request, org):
        data = self.read(s.DeploymentCreateSerializer)
        deployment = services.create_deployment(ctx=self.ctx, **data)
        return Response(s.DeploymentSerializer(deployment).data, status=status.HTTP_201_CREATED)


class _DeploymentBase(_Base, DeploymentScopedView):
    """Views below ``/deployments/{deployment}/``: the deployment resolved in core."""


class DeploymentDetailView(_DeploymentBase):
    serializer_class = s.DeploymentSerializer
    read_action = Action.VIEW

    def read_target(self) -> object:
        return self.deployment

    def get(self, request, org, deployment):
        return Response(s.DeploymentSerializer(self.deployment).data)

    @extend_schema(request=s.DeploymentUpdateSerializer)
    def patch(self, request, org, deployment):
        data = self.read(s.DeploymentUpdateSerializer)
        updated = services.update_deployment(ctx=self.ctx, deployment=self.deployment, **data)
        return Response(s.DeploymentSerializer(updated).data)

    def delete(self, request, org, deployment):
        services.delete_deployment(ctx=self.ctx, deployment=self.deployment)
        return Response(status=status.HTTP_204_NO_CONTENT)


class CodeLocationListView(_DeploymentBase):
    serializer_class = s.CodeLocationSerializer
    pagination_class = IdCursorPagination
    read_action = None  # lists only the code locations the caller may view

    @extend_schema(responses=s.CodeLocationSerializer(many=True))
    def get(self, request, org, deployment):
        return self.paginated(
            queries.code_locations_visible_to(self.principal, self.deployment),
            s.CodeLocationSerializer,
        )

    @extend_schema(
        request=s.CodeLocationCreateSerializer, responses={201: s.CodeLocationSerializer}
    )
    def post(self, request, org, deployment):
        data = self.read(s.CodeLocationCreateSerializer)
        location = services.create_code_location(ctx=self.ctx, deployment=self.deployment, **data)
        return Response(s.CodeLocationSerializer(location).data, status=status.HTTP_201_CREATED)


class CodeLocationDetailView(_DeploymentBase):
    serializer_class = s.CodeLocationSerializer
    read_action = Action.VIEW

    def read_target(self) -> object:
        return self.location

    def resolve_in_deployment(self, *, location, **kwargs):
        self.location = queries.get_code_location(deployment=self.deployment, name=location)

    def get(self, request, org, deployment, location):
        return Response(s.CodeLocationSerializer(self.location).data)

    @extend_schema(request=s.CodeLocationUpdateSerializer)
    def patch(self, request, org, deployment, location):
        data = self.read(s.CodeLocationUpdateSerializer)
        updated = services.update_code_location(ctx=self.ctx, location=self.location, **data)
        return Response(s.CodeLocationSerializer(updated).data)

    def delete(self, request, org, deployment, location):
        services.delete_code_location(ctx=self.ctx, location=self.location)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MemberListView(_Base):
    serializer_class = s.MemberSerializer
    pagination_class = IdCursorPagination
    read_action = Action.VIEW

    @extend_schema(responses=s.MemberSerializer(many=True))
    def get(self, request, org):
        return self.paginated(queries.members(), s.MemberSerializer)

    @extend_schema(request=s.MemberCreateSerializer, responses={201: s.InvitationSerializer})
    def post(self, request, org):
        """Invite by email: the person becomes a member when they accept the mailed link.
        The answer is the same whether or not the email is known on the platform."""
        from control_plane.identity.services import invite_member

        data = self.read(s.MemberCreateSerializer)
        invitation = invite_member(ctx=self.ctx, **data)
        return Response(s.InvitationSerializer(invitation).data, status=status.HTTP_201_CREATED)


class MemberDetailView(_Base):
    serializer_class = s.MemberSerializer
    read_action = Action.VIEW

    def resolve(self, *, member_id, **kwargs):
        self.membership = queries.get_membership(membership_id=member_id)

    def get(self, request, org, member_id):
        return Response(s.MemberSerializer(self.membership).data)

    def delete(self, request, org, member_id):
        services.remove_member(ctx=self.ctx, membership=self.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamListView(_Base):
    serializer_class = s.TeamSerializer
    pagination_class = IdCursorPagination
    read_action = Action.VIEW

    @extend_schema(responses=s.TeamSerializer(many=True))
    def get(self, request, org):
        return self.paginated(queries.teams(), s.TeamSerializer)

    @extend_schema(request=s.TeamWriteSerializer, responses={201: s.TeamSerializer})
    def post(self, request, org):
        data = self.read(s.TeamWriteSerializer)
        team = services.create_team(ctx=self.ctx, **data)
        return Response(s.TeamSerializer(team).data, status=status.HTTP_201_CREATED)


class _TeamBase(_Base):
    def resolve(self, *, team_id, **kwargs):
        self.team = queries.get_team(team_id=team_id)


class TeamDetailView(_TeamBase):
    serializer_class = s.TeamSerializer
    read_action = Action.VIEW

    def get(self, request, org, team_id):
        return Response(s.TeamSerializer(self.team).data)

    @extend_schema(request=s.TeamWriteSerializer)
    def patch(self, request, org, team_id):
        data = self.read(s.TeamWriteSerializer)
        team = services.update_team(ctx=self.ctx, team=self.team, **data)
        return Response(s.TeamSerializer(team).data)

    def delete(self, request, org, team_id):
        services.delete_team(ctx=self.ctx, team=self.team)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TeamMemberListView(_TeamBase):
    serializer_class = s.MemberSerializer
    pagination_class = IdCursorPagination
    read_action = Action.VIEW

    @extend_schema(responses=s.MemberSerializer(many=True))
    def get(self, request, org, team_id):
        members = queries.members().filter(user__groups=self.team.group)
        return self.paginated(members, s.MemberSerializer)

    @extend_schema(request=s.TeamMemberSerializer, responses={201: s.MemberSerializer})
    def post(self, request, org, team_id):
        data = self.read(s.TeamMemberSerializer)
        membership = queries.get_membership(membership_id=data["member_id"])
        services.add_team_member(ctx=self.ctx, team=self.team, membership=membership)
        return Response(s.MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class TeamMemberDetailView(_TeamBase):
    serializer_class = s.MemberSerializer

    def resolve(self, *, member_id, **kwargs):
        super().resolve(**kwargs)
        self.membership = queries.get_membership(membership_id=member_id)

    def delete(self, request, org, team_id, member_id):
        services.remove_team_member(ctx=self.ctx, team=self.team, membership=self.membership)
        return Response(status=status.HTTP_204_NO_CONTENT)


class GrantListView(_Base):
    serializer_class = s.GrantSerializer
    pagination_class = IdCursorPagination
    read_action = Action.VIEW

    @extend_schema(responses=s.GrantSerializer(many=True))
    def get(self, request, org):
        return self.paginated(queries.grants(), s.GrantSerializer)

    @extend_schema(request=s.GrantCreateSerializer, responses={201: s.GrantSerializer})
    def post(self, request, org):
        data = self.read(s.GrantCreateSerializer)
        deployment = location = membership = team = None
        if "deployment" in data:
            deployment = queries.get_deployment(name=data["deployment"])
        if "code_location" in data:
            location = queries.get_code_location(deployment=deployment, name=data["code_location"])
        if "member_id" in data:
            membership = queries.get_membership(membership_id=data["member_id"])
        if "team_id" in data:
            team = queries.get_team(team_id=data["team_id"])
        grant = services.create_grant(
            ctx=self.ctx,
            role=Role.from_slug(data["role"]),
            membership=membership,
            team=team,
            deployment=deployment,
            code_location=location,
        )
        return Response(s.GrantSerializer(grant).data, status=status.HTTP_201_CREATED)


class GrantDetailView(_Base):
    serializer_class = s.GrantSerializer
    read_action = Action.VIEW

    def resolve(self, *, grant_id, **kwargs):
        self.grant = queries.get_grant(grant_id=grant_id)

    def get(self, request, org, grant_id):
        return Response(s.GrantSerializer(self.grant).data)

    @extend_schema(request=s.GrantUpdateSerializer)
    def patch(self, request, org, grant_id):
        data = self.read(s.GrantUpdateSerializer)
        grant = services.update_grant(
            ctx=self.ctx, grant=self.grant, role=Role.from_slug(data["role"])
        )
        return Response(s.GrantSerializer(grant).data)

    def delete(self, request, org, grant_id):
        services.delete_grant(ctx=self.ctx, grant=self.grant)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenListView(_Base):
    serializer_class = s.TokenSerializer
    pagination_class = IdCursorPagination
    read_action = None  # lists only the tokens the caller may see

    @extend_schema(responses=s.TokenSerializer(many=True))
    def get(self, request, org):
        return self.paginated(
            queries.tokens_visible_to(self.principal, self.ctx.organization), s.TokenSerializer
        )

    @extend_schema(request=s.TokenCreateSerializer, responses={201: s.CreatedTokenSerializer})
    def post(self, request, org):
        data = self.read(s.TokenCreateSerializer)
        if data["kind"] == "agent":
            deployments = [queries.get_deployment(name=name) for name in data["deployments"]]
            token, secret = services.create_agent_token(
                ctx=self.ctx,
                name=data["name"],
                deployments=deployments,
                expires_at=data.get("expires_at"),
            )
        else:
            deployment = None
            if "deployment" in data:
                deployment = queries.get_deployment(name=data["deployment"])
            max_role = Role.from_slug(data["max_role"]) if "max_role" in data else None
            token, secret = services.create_user_token(
                ctx=self.ctx,
                name=data["name"],
                deployment=deployment,
                max_role=max_role,
                expires_at=data.get("expires_at"),
            )
        body = s.TokenSerializer(token).data
        body["token"] = secret  # the only time the secret is ever shown
        return Response(body, status=status.HTTP_201_CREATED)


class TokenDetailView(_Base):
    serializer_class = s.TokenSerializer
    read_action = None  # resolves only among the tokens the caller may see

    def resolve(self, *, token_id, **kwargs):
        visible = queries.tokens_visible_to(self.principal, self.ctx.organization)
        self.token = queries.get_token(queryset=visible, token_id=token_id)

    def get(self, request, org, token_id):
        return Response(s.TokenSerializer(self.token).data)

    def delete(self, request, org, token_id):
        services.revoke_token(ctx=self.ctx, token=self.token)
        return Response(status=status.HTTP_204_NO_CONTENT)
