from django.urls import include, path

from control_plane.health import views as health_views

urlpatterns = [
    path("api/v1/", include("control_plane.api.urls")),
    path("healthz", health_views.healthz),
    path("readyz", health_views.readyz),
    path("", include("control_plane.identity.urls")),
    path("", include("control_plane.sso.urls")),
    path("scim/v2/<slug:org>/", include("control_plane.sso.scim_urls")),
    path("billing/", include("billing.urls")),
    path("ci/v1/", include("control_plane.branches.ci_urls")),
    path("github/webhooks/", include("control_plane.branches.webhook_urls")),
    path("", include("control_plane.console.urls")),  # last: the console is at /
]
