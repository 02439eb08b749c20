"""The catalog's console pages, under ``/o/<org>/d/<deployment>/search/``."""

from django.urls import path

from control_plane.catalog import console_views

app_name = "catalog"

urlpatterns = [path("", console_views.search_page, name="search")]
