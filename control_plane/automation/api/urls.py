from django.urls import path

from control_plane.automation.api import declarative_views, views

_DEP = "orgs/<slug:org>/deployments/<slug:deployment>/"

urlpatterns = [
    path(_DEP + "schedules/", views.ScheduleListView.as_view(), name="schedule-list"),
    path(
        _DEP + "schedules/<str:schedule_name>/",
        views.ScheduleDetailView.as_view(),
        name="schedule-detail",
    ),
    path(_DEP + "sensors/", views.SensorListView.as_view(), name="sensor-list"),
    path(
        _DEP + "sensors/<str:sensor_name>/", views.SensorDetailView.as_view(), name="sensor-detail"
    ),
    path(_DEP + "ticks/", views.TickListView.as_view(), name="tick-list"),
    path(_DEP + "ticks/<int:tick_id>/", views.TickDetailView.as_view(), name="tick-detail"),
]

# Declarative automation (``declarative_views``).
urlpatterns += [
    path(
        _DEP + "automation/",
        declarative_views.AutomationSettingsView.as_view(),
        name="automation-settings",
    ),
    path(
        _DEP + "automation/assets/<path:asset_key>/evaluations/",
        declarative_views.AssetEvaluationListView.as_view(),
        name="asset-evaluation-list",
    ),
    path(
        _DEP + "ticks/<int:tick_id>/evaluations/",
        declarative_views.TickEvaluationListView.as_view(),
        name="tick-evaluation-list",
    ),
]
