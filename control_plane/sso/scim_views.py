"""``/scim/v2/<org>/``: SCIM 2.0 over DRF, authenticated by the organization's SCIM token.

A SCIM token opens these endpoints only (the REST API and agent protocol do not know its
``assay_s_`` kind), and only for the organization it was made in (another answers 404).
Errors are SCIM error bodies (RFC 7644 §3.12).
"""

from __future__ import annotations

from django.db import DataError, IntegrityError
from django.utils import timezone
from rest_framework import authentication, exceptions, parsers, renderers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from control_plane.core.api.authentication import client_ip
from control_plane.core.context import Principal, TenantContext, activate, deactivate
from control_plane.core.errors import AssayError, NotFound
from control_plane.sso import scim
from control_plane.sso.models import ScimGroup, ScimUser
from control_plane.sso.schemas import resource_types, schemas, service_provider_config
from control_plane.sso.services import verify_scim_token

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
MAX_COUNT = 200


class ScimJSONParser(parsers.JSONParser):
    media_type = "application/scim+json"


class ScimJSONRenderer(renderers.JSONRenderer):
    media_type = "application/scim+json"


class ScimTokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <SCIM token>'.")
        token = verify_scim_token(value.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid SCIM token.")
        if token.last_used_at is None or timezone.now() - token.last_used_at > timezone.timedelta(
            minutes=1
        ):
            type(token).objects.unscoped().filter(pk=token.pk).update(last_used_at=timezone.now())
        return (None, token)

    def authenticate_header(self, request) -> str:
        return "Bearer"


def scim_error(status_code: int, detail: str, scim_type: str = "") -> Response:
    body = {"schemas": [ERROR_SCHEMA], "status": str(status_code), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return Response(body, status=status_code, content_type="application/scim+json")


class ScimView(APIView):
    authentication_classes = [ScimTokenAuthentication]
    permission_classes: list = []
    parser_classes = [ScimJSONParser, parsers.JSONParser]
    renderer_classes = [ScimJSONRenderer, renderers.JSONRenderer]

    ctx: TenantContext

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        token = request.auth
        if token is None:
            raise exceptions.NotAuthenticated("Use 'Authorization: Bearer <SCIM token>'.")
        if token.organization.slug != kwargs["org"]:
            raise NotFound("not found")
        self.ctx = TenantContext(
            organization=token.organization,
            principal=Principal(kind="system", label=f"SCIM token {token.prefix_id}"),
            ip=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", ""),
        )
        self._context_token = activate(self.ctx)

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_context_token", None)
        if token is not None:
            deactivate(token)
            self._context_token = None
        return super().finalize_response(request, response, *args, **kwargs)

    def handle_exception(self, exc):
        if isinstance(exc, AssayError):
            scim_type = getattr(exc, "scim_type", "") or (
                "uniqueness" if exc.status_code == 409 else ""
            )
            if exc.status_code == 400 and not scim_type:
                scim_type = "invalidValue"
            return scim_error(exc.status_code, exc.message, scim_type)
        if isinstance(exc, IntegrityError):  # a concurrent request made the same thing first
            return scim_error(409, "a resource with these values exists", "uniqueness")
        if isinstance(exc, DataError):
            return scim_error(400, "a value does not fit its attribute", "invalidValue")
        if isinstance(exc, exceptions.ParseError):
            return scim_error(400, str(exc.detail), "invalidSyntax")
        if isinstance(exc, exceptions.APIException):
            response = super().handle_exception(exc)
            answer = scim_error(response.status_code, str(exc.detail))
            if "WWW-Authenticate" in response:
                answer["WWW-Authenticate"] = response["WWW-Authenticate"]
            return answer
        raise exc

    @property
    def base(self) -> str:
        from django.conf import settings

        return f"{settings.BASE_URL}/scim/v2/{self.ctx.organization.slug}"

    def body(self) -> dict:
        if not isinstance(self.request.data, dict):
            raise scim.InvalidInput("the body must be a JSON object")
        return self.request.data

    def params(self) -> dict:
        """Query parameters, or a SearchRequest body for ``POST .search``."""
        if self.request.method == "POST":
            return self.body()
        return self.request.query_params

    def shaped(self, resource: dict) -> dict:
        """``attributes`` / ``excludedAttributes`` (RFC 7644 §3.4.2.5) applied."""
        params = self.params()
        return project(resource, params.get("attributes"), params.get("excludedAttributes"))

    def page(self, queryset, render) -> Response:
        params = self.params()
        try:
            start = max(int(params.get("startIndex", 1)), 1)
            count = min(max(int(params.get("count", MAX_COUNT)), 0), MAX_COUNT)
        except (TypeError, ValueError):
            raise scim.InvalidInput("startIndex and count must be integers") from None
        total = queryset.count()
        rows = list(queryset.order_by("pk")[start - 1 : start - 1 + count])
        return Response(
            {
                "schemas": [scim.LIST_SCHEMA],
                "totalResults": total,
                "startIndex": start,
                "itemsPerPage": len(rows),
                "Resources": [self.shaped(render(row, self.base)) for row in rows],
            }
        )


class ServiceProviderConfigView(ScimView):
    def get(self, request, org):
        return Response(service_provider_config(self.base))


class ResourceTypesView(ScimView):
    def get(self, request, org, name=None):
        types = resource_types(self.base)
        if name is None:
            return Response(_list(types))
        found = next((t for t in types if t["id"] == name), None)
        if found is None:
            raise NotFound(f"no resource type {name!r}")
        return Response(found)


class SchemasView(ScimView):
    def get(self, request, org, schema_id=None):
        every = schemas(self.base)
        if schema_id is None:
            return Response(_list(every))
        found = next((s for s in every if s["id"] == schema_id), None)
        if found is None:
            raise NotFound(f"no schema {schema_id!r}")
        return Response(found)


ALWAYS_RETURNED = {"id", "schemas"}


def _names(value) -> set[str]:
    if not value:
        return set()
    items = value if isinstance(value, list) else str(value).split(",")
    return {str(item).strip().split(".")[0].rsplit(":", 1)[-1].lower() for item in items}


def project(resource: dict, attributes, excluded) -> dict:
    """Keep only ``attributes`` (top level; ``name.givenName`` keeps ``name``), or drop
    ``excluded``; ``id`` and ``schemas`` are always returned."""
    wanted, dropped = _names(attributes), _names(excluded)
    return {
        key: value
        for key, value in resource.items()
        if key in ALWAYS_RETURNED
        or ((not wanted or key.lower() in wanted) and key.lower() not in dropped)
    }


def _list(resources: list[dict]) -> dict:
    return {
        "schemas": [scim.LIST_SCHEMA],
        "totalResults": len(resources),
        "startIndex": 1,
        "itemsPerPage": len(resources),
        "Resources": resources,
    }


class UsersView(ScimView):
    def get(self, request, org):
        where = scim.parse_filter(self.params().get("filter") or "", scim.USER_FILTER_ATTRS)
        return self.page(ScimUser.objects.select_related("user").filter(where), scim.user_resource)

    def post(self, request, org):
        row = scim.create_user(self.ctx, self.body())
        return Response(scim.user_resource(row, self.base), status=status.HTTP_201_CREATED)


class UserSearchView(UsersView):
    """``POST /Users/.search``: the list, with the query in a SearchRequest body."""

    def post(self, request, org):
        return self.get(request, org)


class UserView(ScimView):
    def get(self, request, org, pk):
        return Response(self.shaped(scim.user_resource(scim.get_user(pk), self.base)))

    def put(self, request, org, pk):
        row = scim.replace_user(self.ctx, scim.get_user(pk), self.body())
        return Response(scim.user_resource(row, self.base))

    def patch(self, request, org, pk):
        row = scim.patch_user(self.ctx, scim.get_user(pk), self.body())
        return Response(scim.user_resource(row, self.base))

    def delete(self, request, org, pk):
        scim.delete_user(self.ctx, scim.get_user(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class GroupsView(ScimView):
    def get(self, request, org):
        where = scim.parse_filter(self.params().get("filter") or "", scim.GROUP_FILTER_ATTRS)
        return self.page(
            ScimGroup.objects.select_related("team").filter(where), scim.group_resource
        )

    def post(self, request, org):
        row = scim.create_group(self.ctx, self.body())
        return Response(scim.group_resource(row, self.base), status=status.HTTP_201_CREATED)


class GroupSearchView(GroupsView):
    def post(self, request, org):
        return self.get(request, org)


class RootSearchView(ScimView):
    """Searching several resource types at once is not offered (RFC 7644 §3.4.3: 501)."""

    def post(self, request, org):
        return scim_error(501, "search /Users/.search or /Groups/.search instead")


class GroupView(ScimView):
    def get(self, request, org, pk):
        return Response(self.shaped(scim.group_resource(scim.get_group(pk), self.base)))

    def put(self, request, org, pk):
        row = scim.replace_group(self.ctx, scim.get_group(pk), self.body())
        return Response(scim.group_resource(row, self.base))

    def patch(self, request, org, pk):
        row = scim.patch_group(self.ctx, scim.get_group(pk), self.body())
        return Response(scim.group_resource(row, self.base))

    def delete(self, request, org, pk):
        scim.delete_group(self.ctx, scim.get_group(pk))
        return Response(status=status.HTTP_204_NO_CONTENT)


class UnknownEndpointView(ScimView):
    """Any other path under ``/scim/v2/<org>/``: a SCIM 404, not the console's HTML page."""

    def _missing(self, request, org, rest=""):
        raise NotFound(f"no SCIM endpoint {request.path!r}")

    get = post = put = patch = delete = _missing
