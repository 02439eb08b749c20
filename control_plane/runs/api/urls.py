from django.urls import path

from control_plane.runs.api import views

_RUNS = "orgs/<slug:org>/deployments/<slug:deployment>/runs/"

urlpatterns = [
    path(_RUNS, views.RunListView.as_view(), name="run-list"),
    path(_RUNS + "<str:run_id>/", views.RunDetailView.as_view(), name="run-detail"),
    path(_RUNS + "<str:run_id>/events/", views.RunEventsView.as_view(), name="run-events"),
    path(_RUNS + "<str:run_id>/terminate/", views.RunTerminateView.as_view(), name="run-terminate"),
]
