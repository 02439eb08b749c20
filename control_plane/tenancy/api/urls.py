from django.urls import path

from control_plane.tenancy.api import views

urlpatterns = [
    path("orgs/", views.OrganizationListView.as_view(), name="org-list"),
    path("orgs/<slug:org>/", views.OrganizationDetailView.as_view(), name="org-detail"),
    path(
        "orgs/<slug:org>/deployments/", views.DeploymentListView.as_view(), name="deployment-list"
    ),
    path(
        "orgs/<slug:org>/deployments/<slug:deployment>/",
        views.DeploymentDetailView.as_view(),
        name="deployment-detail",
    ),
    path(
        "orgs/<slug:org>/deployments/<slug:deployment>/code-locations/",
        views.CodeLocationListView.as_view(),
        name="code-location-list",
    ),
    path(
        "orgs/<slug:org>/deployments/<slug:deployment>/code-locations/<str:location>/",
        views.CodeLocationDetailView.as_view(),
        name="code-location-detail",
    ),
    path("orgs/<slug:org>/members/", views.MemberListView.as_view(), name="member-list"),
    path(
        "orgs/<slug:org>/members/<int:member_id>/",
        views.MemberDetailView.as_view(),
        name="member-detail",
    ),
    path("orgs/<slug:org>/teams/", views.TeamListView.as_view(), name="team-list"),
    path(
        "orgs/<slug:org>/teams/<int:team_id>/", views.TeamDetailView.as_view(), name="team-detail"
    ),
    path(
        "orgs/<slug:org>/teams/<int:team_id>/members/",
        views.TeamMemberListView.as_view(),
        name="team-member-list",
    ),
    path(
        "orgs/<slug:org>/teams/<int:team_id>/members/<int:member_id>/",
        views.TeamMemberDetailView.as_view(),
        name="team-member-detail",
    ),
    path("orgs/<slug:org>/grants/", views.GrantListView.as_view(), name="grant-list"),
    path(
        "orgs/<slug:org>/grants/<int:grant_id>/",
        views.GrantDetailView.as_view(),
        name="grant-detail",
    ),
    path("orgs/<slug:org>/tokens/", views.TokenListView.as_view(), name="token-list"),
    path(
        "orgs/<slug:org>/tokens/<int:token_id>/",
        views.TokenDetailView.as_view(),
        name="token-detail",
    ),
]
