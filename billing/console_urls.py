"""The billing console pages, under ``/o/<org>/billing/``."""

from django.urls import path

from billing import console_views

app_name = "billing"

urlpatterns = [path("", console_views.usage_page, name="usage")]
