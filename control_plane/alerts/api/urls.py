from django.urls import path

from control_plane.alerts.api import views

_DEPLOYMENT = "orgs/<slug:org>/deployments/<slug:deployment>/"

urlpatterns = [
    path(
        _DEPLOYMENT + "alert-policies/",
        views.AlertPolicyListView.as_view(),
        name="alert-policy-list",
    ),
    path(
        _DEPLOYMENT + "alert-policies/<int:policy_id>/",
        views.AlertPolicyDetailView.as_view(),
        name="alert-policy-detail",
    ),
    path(_DEPLOYMENT + "incidents/", views.IncidentListView.as_view(), name="incident-list"),
]
