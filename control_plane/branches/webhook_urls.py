"""GitHub's webhook, outside ``/api/``: GitHub signs its deliveries, it holds no token, so
the endpoint is not one of the API's principal-authenticated routes."""

from django.urls import path

from control_plane.branches.api import views

urlpatterns = [
    path("<slug:org>/", views.GitHubWebhookView.as_view(), name="github-webhook"),
]
