"""Teach drf-spectacular our authentication classes (imported by ``CoreConfig.ready``) and
the error answers every operation can give."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "control_plane.core.api.authentication.BearerTokenAuthentication"
    name = "bearerToken"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A user API token: assay_u_<id>_<secret>.",
        }


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "control_plane.core.api.authentication.SessionAuthentication"
    name = "cookieAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}


def only_the_api(endpoints):  # type: ignore[no-untyped-def]
    """Keep ``/api/`` in the schema. SCIM (``/scim/v2/``, its own RFC 7644 schema), the CI
    endpoints and the signed webhooks authenticate in realms of their own and are
    documented in docs/sso.md, docs/branch-deployments.md and docs/billing.md."""
    return [endpoint for endpoint in endpoints if endpoint[0].startswith("/api/")]


class ApiErrorSerializer(serializers.Serializer):
    """The one shape of every error under ``/api/`` (``core.api.errors``, the middleware)."""

    detail = serializers.CharField()
    # field -> messages; a nested field's messages nest as its value does.
    errors = serializers.DictField(required=False)  # type: ignore[assignment]

    class Meta:
        ref_name = "ApiError"


# Statuses any operation may answer: bad input (query or body), no or a bad token, a role
# that does not allow it, an object that is not there (or not visible), too many failures.
_EVERY_OPERATION = ("400", "401", "403", "404", "429")
# And those that change something: a conflict with the current state, a body too large.
_MUTATING = ("409", "413")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema plus the documented error statuses, so a client (and
    schemathesis) knows every status it can get, in the API's one error shape."""

    def _get_response_bodies(self, direction="response"):  # type: ignore[no-untyped-def]
        responses = super()._get_response_bodies(direction)
        codes = _EVERY_OPERATION + (_MUTATING if self.method != "GET" else ())
        for code in codes:
            if code not in responses:
                responses[code] = self._get_response_for_code(
                    ApiErrorSerializer, code, direction=direction
                )
        return responses

    def _map_basic_serializer(self, serializer, direction):  # type: ignore[no-untyped-def]
        """A ``StrictSerializer`` refuses fields it does not declare: say so."""
        from control_plane.core.api.serializers import StrictSerializer

        schema = super()._map_basic_serializer(serializer, direction)
        if isinstance(serializer, StrictSerializer) or (
            isinstance(serializer, type) and issubclass(serializer, StrictSerializer)
        ):
            schema["additionalProperties"] = False
        return schema
