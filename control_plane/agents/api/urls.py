from django.urls import path

from control_plane.agents.api import views

_LOCATION = "orgs/<slug:org>/deployments/<slug:deployment>/code-locations/<str:location>/"

urlpatterns = [
    path(_LOCATION + "status/", views.LocationStatusView.as_view(), name="code-location-status"),
    path(_LOCATION + "reload/", views.LocationReloadView.as_view(), name="code-location-reload"),
]
