from django.urls import include, path

urlpatterns = [
    path("api/v1/", include("control_plane.api.urls")),
    path("", include("control_plane.identity.urls")),
    path("", include("control_plane.sso.urls")),
    path("scim/v2/<slug:org>/", include("control_plane.sso.scim_urls")),
    path("", include("control_plane.console.urls")),  # last: the console is at /
]
