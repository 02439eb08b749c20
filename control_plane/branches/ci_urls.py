"""The CI endpoints at ``/ci/v1/``, outside ``/api/``: they take only a CI token (an
authentication realm of their own, like SCIM's), and the organization is the token's."""

from django.urls import path

from control_plane.branches.api import views

urlpatterns = [
    path("branches/", views.CiBranchView.as_view(), name="ci-branch"),
    path("branches/close/", views.CiBranchCloseView.as_view(), name="ci-branch-close"),
    path("deploy/", views.CiDeployView.as_view(), name="ci-deploy"),
]
