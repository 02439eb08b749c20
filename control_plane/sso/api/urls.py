from django.urls import path

from control_plane.sso.api import views

urlpatterns = [
    path(
        "orgs/<slug:org>/teams/<int:team_id>/default-roles/",
        views.TeamDefaultRolesView.as_view(),
        name="team-default-roles",
    ),
]
