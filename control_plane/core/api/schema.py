"""Teach drf-spectacular our authentication classes (imported by ``CoreConfig.ready``)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


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
