"""The branches app's console pages, under ``/o/<org>/d/<deployment>/branch/``."""

from django.urls import path

from control_plane.branches import console_views

app_name = "branches"

urlpatterns = [path("", console_views.diff_page, name="diff")]
