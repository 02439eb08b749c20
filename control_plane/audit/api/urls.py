from django.urls import path

from control_plane.audit.api import views

urlpatterns = [
    path("orgs/<slug:org>/audit/", views.AuditEventListView.as_view(), name="audit-list"),
    path("orgs/<slug:org>/audit/export/", views.AuditExportView.as_view(), name="audit-export"),
]
