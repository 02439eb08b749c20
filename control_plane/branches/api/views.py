"""Thin REST adapters over ``branches.services``: CI endpoints (CI token) and user ones."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.branches import services
from control_plane.branches.api import serializers as s
from control_plane.branches.api.authentication import CiTokenAuthentication
from control_plane.branches.diff import branch_diff
from control_plane.branches.errors import BranchNotFound
from control_plane.branches.models import BranchDeployment
from control_plane.core.api.authentication import client_ip
from control_plane.core.api.views import OrganizationScopedView
from control_plane.core.context import TenantContext, activate, deactivate
from control_plane.tenancy.permissions import authorize
from control_plane.tenancy.roles import Action


class CiView(APIView):
    """``/ci/v1/...``: the organization is the CI token's own; nothing else accepts it."""

    authentication_classes = [CiTokenAuthentication]
    permission_classes: list = []
    ctx: TenantContext

    def initial(self, request, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().initial(request, *args, **kwargs)
        token = request.ci_token
        self.ctx = TenantContext(
            organization=token.organization,
            principal=request.principal,
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        self._context_token = activate(self.ctx)

    def finalize_response(self, request, response, *args, **kwargs):  # type: ignore[no-untyped-def]
        token = getattr(self, "_context_token", None)
        if token is not None:
            deactivate(token)
            self._context_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    def read(self, serializer_class) -> dict:  # type: ignore[no-untyped-def]
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data


def describe(branch: BranchDeployment, *, with_diff: bool) -> dict[str, Any]:
    data: dict[str, Any] = dict(s.BranchDeploymentSerializer(branch).data)
    if with_diff:
        diff, state = branch_diff(branch)
        data.update(state)
        data["diff"] = diff.to_dict() if diff is not None else None
    return data


class CiBranchView(CiView):
    @extend_schema(exclude=True)  # outside /api/: not part of the API's schema
    def post(self, request):  # type: ignore[no-untyped-def]
        data = self.read(s.BranchRequestSerializer)
        branch, outcome = services.create_or_update(
            ctx=self.ctx,
            request=services.BranchRequest(
                repo=data["repo"],
                pr_number=data["pr"],
                branch=data["branch"],
                commit=data["commit"],
                title=data["title"],
                author=data["author"],
                base=data["base"],
            ),
        )
        from control_plane.branches import github

        github.sync_comment(branch)  # the same PR comment as the webhook keeps
        code = status.HTTP_201_CREATED if outcome == "created" else status.HTTP_200_OK
        return Response(describe(branch, with_diff=False) | {"outcome": outcome}, status=code)


class CiBranchCloseView(CiView):
    @extend_schema(exclude=True)  # outside /api/: not part of the API's schema
    def post(self, request):  # type: ignore[no-untyped-def]
        data = self.read(s.CloseSerializer)
        branch = services.get_branch(repo=data["repo"] or None, pr_number=data["pr"])
        result = services.close(ctx=self.ctx, branch=branch)
        return Response(describe(branch, with_diff=False) | result)


class CiDeployView(CiView):
    @extend_schema(exclude=True)  # outside /api/: not part of the API's schema
    def post(self, request):  # type: ignore[no-untyped-def]
        data = self.read(s.DeploySerializer)
        deployment = services.deploy(ctx=self.ctx, commit=data["commit"], base=data["deployment"])
        return Response({"deployment": deployment.name, "commit": data["commit"]})


class CiTokenListView(OrganizationScopedView):
    serializer_class = s.CiTokenRequestSerializer

    @extend_schema(request=s.CiTokenRequestSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request, org):  # type: ignore[no-untyped-def]
        data = self.read(s.CiTokenRequestSerializer)
        token, secret = services.issue_ci_token(ctx=self.ctx, name=data["name"])
        return Response(
            {"name": token.name, "prefix": token.prefix_id, "token": secret},
            status=status.HTTP_201_CREATED,
        )


class BranchListView(OrganizationScopedView):
    serializer_class = s.BranchDeploymentSerializer

    @extend_schema(operation_id="orgs_branch_deployments_list", responses=OpenApiTypes.OBJECT)
    def get(self, request, org):  # type: ignore[no-untyped-def]
        authorize(self.ctx.principal, Action.VIEW, self.ctx.organization)
        rows = BranchDeployment.objects.select_related("base").order_by("-created_at")[:200]
        return Response({"results": [describe(b, with_diff=False) for b in rows]})


class _OneBranch(OrganizationScopedView):
    serializer_class = s.BranchDeploymentSerializer

    def resolve(self, *, name, **kwargs):  # type: ignore[no-untyped-def]
        branch = BranchDeployment.objects.select_related("base", "deployment").filter(name=name)
        self.branch = branch.exclude(status=BranchDeployment.Status.DELETED).first()
        if self.branch is None:
            raise BranchNotFound(f"no branch deployment named {name!r}")


class BranchDetailView(_OneBranch):
    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, org, name):  # type: ignore[no-untyped-def]
        authorize(self.ctx.principal, Action.VIEW, self.branch.deployment or self.ctx.organization)
        return Response(describe(self.branch, with_diff=True))


class BranchCloseView(_OneBranch):
    @extend_schema(request=None, responses=OpenApiTypes.OBJECT)
    def post(self, request, org, name):  # type: ignore[no-untyped-def]
        result = services.close(ctx=self.ctx, branch=self.branch)
        return Response(describe(self.branch, with_diff=False) | result)


class GitHubWebhookView(APIView):
    """``POST /github/webhooks/<org>/``: authenticated by its signature alone."""

    authentication_classes: list = []
    permission_classes: list = []

    @extend_schema(exclude=True)  # outside /api/: not part of the API's schema
    def post(self, request, org):  # type: ignore[no-untyped-def]
        from control_plane.branches import github
        from control_plane.tenancy.models import Organization

        organization = Organization.objects.filter(slug=org).first()
        if organization is None:  # answered like a bad signature: existence does not leak
            raise github.SignatureRefused("the X-Hub-Signature-256 signature does not match")
        ctx = TenantContext(
            organization=organization,
            principal=services.webhook_principal(),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        token = activate(ctx)
        try:
            result = github.handle_delivery(
                ctx=ctx,
                body=request.body,
                signature=request.META.get("HTTP_X_HUB_SIGNATURE_256", ""),
                event=request.META.get("HTTP_X_GITHUB_EVENT", ""),
                delivery_id=request.META.get("HTTP_X_GITHUB_DELIVERY", ""),
            )
        finally:
            deactivate(token)
        return Response(result)


class GitHubSettingsView(OrganizationScopedView):
    serializer_class = s.GitHubSettingsSerializer

    @extend_schema(request=s.GitHubSettingsSerializer, responses=OpenApiTypes.OBJECT)
    def put(self, request, org):  # type: ignore[no-untyped-def]
        from control_plane.branches import github

        data = self.read(s.GitHubSettingsSerializer)
        row = github.configure(ctx=self.ctx, **data)
        return Response({"api_url": row.api_url, "console_url": row.console_url})
