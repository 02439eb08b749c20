"""Input and output shapes of the tenancy endpoints."""

from __future__ import annotations

from rest_framework import serializers

from control_plane.core.api.serializers import StrictSerializer
from control_plane.tenancy.models import ApiToken, RoleGrant
from control_plane.tenancy.roles import Role
from control_plane.tenancy.validation import LOCATION_RULE, SLUG_RULE, TOKEN_NAME_MAX

ROLE_CHOICES = [role.slug for role in Role]


class OrganizationSerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    plan = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class OrganizationUpdateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=200)


class DeploymentSerializer(serializers.Serializer):
    name = serializers.CharField(read_only=True)
    kind = serializers.CharField(read_only=True)
    max_concurrent_runs = serializers.IntegerField(read_only=True)
    run_tag_limits = serializers.JSONField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class DeploymentCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=63, validators=[SLUG_RULE])
    max_concurrent_runs = serializers.IntegerField(min_value=1, max_value=10_000, required=False)


class RunTagLimitSerializer(StrictSerializer):
    key = serializers.CharField(max_length=100)
    value = serializers.CharField(max_length=200, required=False, allow_null=True, default=None)
    limit = serializers.IntegerField(min_value=0, max_value=10_000)


class DeploymentUpdateSerializer(StrictSerializer):
    max_concurrent_runs = serializers.IntegerField(min_value=1, max_value=10_000, required=False)
    run_tag_limits = RunTagLimitSerializer(many=True, required=False, max_length=100)

    def validate(self, attrs):
        if not attrs:
            raise serializers.ValidationError("Give max_concurrent_runs or run_tag_limits.")
        return attrs


class CodeLocationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    deployment = serializers.CharField(source="deployment.name", read_only=True)
    module = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class CodeLocationCreateSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100, validators=[LOCATION_RULE])
    module = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class CodeLocationUpdateSerializer(StrictSerializer):
    module = serializers.CharField(max_length=255, allow_blank=True)


class MemberSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    name = serializers.CharField(source="user.name", read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class MemberCreateSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    name = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class InvitationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    email = serializers.EmailField(read_only=True)
    name = serializers.CharField(read_only=True)
    status = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)


class TeamSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(read_only=True)
    created_at = serializers.DateTimeField(read_only=True)


class TeamWriteSerializer(StrictSerializer):
    name = serializers.CharField(max_length=100)


class TeamMemberSerializer(StrictSerializer):
    member_id = serializers.IntegerField(min_value=1)


class GrantSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    role = serializers.SerializerMethodField()
    member_email = serializers.SerializerMethodField()
    team = serializers.SerializerMethodField()
    scope = serializers.CharField(read_only=True)
    deployment = serializers.SerializerMethodField()
    code_location = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)

    def get_role(self, grant: RoleGrant) -> str:
        return Role(grant.role).slug

    def get_member_email(self, grant: RoleGrant) -> str | None:
        return grant.user.email if grant.user_id else None

    def get_team(self, grant: RoleGrant) -> str | None:
        return grant.team.name if grant.team_id else None

    def get_deployment(self, grant: RoleGrant) -> str | None:
        if grant.code_location_id:
            return grant.code_location.deployment.name
        return grant.deployment.name if grant.deployment_id else None

    def get_code_location(self, grant: RoleGrant) -> str | None:
        return grant.code_location.name if grant.code_location_id else None


class GrantCreateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)
    member_id = serializers.IntegerField(min_value=1, required=False)
    team_id = serializers.IntegerField(min_value=1, required=False)
    deployment = serializers.CharField(max_length=63, required=False)
    code_location = serializers.CharField(max_length=100, required=False)

    def validate(self, attrs):
        if ("member_id" in attrs) == ("team_id" in attrs):
            raise serializers.ValidationError(
                {"member_id": ["Give exactly one of member_id or team_id."]}
            )
        if "code_location" in attrs and "deployment" not in attrs:
            raise serializers.ValidationError(
                {"deployment": ["Name the code location's deployment."]}
            )
        return attrs


class GrantUpdateSerializer(StrictSerializer):
    role = serializers.ChoiceField(choices=ROLE_CHOICES)


class TokenSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    kind = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)
    prefix_id = serializers.CharField(read_only=True)
    owner = serializers.SerializerMethodField()
    deployment = serializers.SerializerMethodField()
    deployments = serializers.SerializerMethodField()
    max_role = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField(read_only=True)
    expires_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_used_at = serializers.DateTimeField(read_only=True, allow_null=True)
    revoked_at = serializers.DateTimeField(read_only=True, allow_null=True)

    def get_owner(self, token: ApiToken) -> str | None:
        return token.user.email if token.user_id else None

    def get_deployment(self, token: ApiToken) -> str | None:
        return token.deployment.name if token.deployment_id else None

    def get_deployments(self, token: ApiToken) -> list[str]:
        if token.kind != ApiToken.Kind.AGENT:
            return []
        return sorted(d.name for d in token.deployments.all())

    def get_max_role(self, token: ApiToken) -> str | None:
        return Role(token.max_role).slug if token.max_role else None


class CreatedTokenSerializer(TokenSerializer):
    token = serializers.CharField(
        read_only=True, help_text="The secret. Shown only in this answer."
    )


class TokenCreateSerializer(StrictSerializer):
    kind = serializers.ChoiceField(choices=["user", "agent"], default="user")
    name = serializers.CharField(max_length=TOKEN_NAME_MAX)
    expires_at = serializers.DateTimeField(required=False)
    deployment = serializers.CharField(max_length=63, required=False)
    max_role = serializers.ChoiceField(choices=ROLE_CHOICES, required=False)
    deployments = serializers.ListField(
        child=serializers.CharField(max_length=63), required=False, max_length=100
    )

    def validate(self, attrs):
        if attrs["kind"] == "agent":
            extra = {"deployment", "max_role"} & set(attrs)
            if extra:
                raise serializers.ValidationError(
                    {name: ["Only user tokens are narrowed this way."] for name in extra}
                )
            if not attrs.get("deployments"):
                raise serializers.ValidationError(
                    {"deployments": ["Agent tokens need deployments."]}
                )
        elif "deployments" in attrs:
            raise serializers.ValidationError(
                {"deployments": ["Only agent tokens serve deployments."]}
            )
        return attrs
