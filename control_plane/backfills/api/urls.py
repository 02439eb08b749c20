from django.urls import path

from control_plane.backfills.api import views

_BACKFILLS = "orgs/<slug:org>/deployments/<slug:deployment>/backfills/"
_ONE = _BACKFILLS + "<str:backfill_id>/"

urlpatterns = [
    path(_BACKFILLS, views.BackfillListView.as_view(), name="backfill-list"),
    path(_ONE, views.BackfillDetailView.as_view(), name="backfill-detail"),
    path(_ONE + "partitions/", views.BackfillPartitionsView.as_view(), name="backfill-partitions"),
    path(_ONE + "cancel/", views.BackfillCancelView.as_view(), name="backfill-cancel"),
    path(_ONE + "resume/", views.BackfillResumeView.as_view(), name="backfill-resume"),
    path(
        _ONE + "retry-failed/",
        views.BackfillRetryFailedView.as_view(),
        name="backfill-retry-failed",
    ),
]
