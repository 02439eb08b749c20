from django.urls import path

from control_plane.branches.api import views

_BRANCHES = "orgs/<slug:org>/branch-deployments/"

urlpatterns = [
    path("orgs/<slug:org>/ci-tokens/", views.CiTokenListView.as_view(), name="ci-token-list"),
    path("orgs/<slug:org>/github/", views.GitHubSettingsView.as_view(), name="github-settings"),
    path(_BRANCHES, views.BranchListView.as_view(), name="branch-list"),
    path(_BRANCHES + "<slug:name>/", views.BranchDetailView.as_view(), name="branch-detail"),
    path(_BRANCHES + "<slug:name>/close/", views.BranchCloseView.as_view(), name="branch-close"),
]
