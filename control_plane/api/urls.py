"""``/api/v1/``: every app's REST endpoints plus the OpenAPI schema and its docs page."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView
from rest_framework.permissions import AllowAny

# The schema and its docs page describe the API, not any tenant's data: they are public.
urlpatterns = [
    path("schema/", SpectacularAPIView.as_view(permission_classes=[AllowAny]), name="schema"),
    path(
        "docs/",
        SpectacularRedocView.as_view(url_name="schema", permission_classes=[AllowAny]),
        name="docs",
    ),
    path("", include("control_plane.tenancy.api.urls")),
    path("", include("control_plane.audit.api.urls")),
    path("", include("control_plane.catalog.api.urls")),
    path("", include("control_plane.runs.api.urls")),
    path("", include("control_plane.alerts.api.urls")),
    path("", include("control_plane.automation.api.urls")),
    path("", include("control_plane.agents.api.urls")),
    path("", include("control_plane.backfills.api.urls")),
    path("", include("control_plane.sso.api.urls")),
    path("", include("control_plane.branches.api.urls")),
    path("", include("billing.api")),
]
