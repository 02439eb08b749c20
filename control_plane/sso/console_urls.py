"""The Single sign-on console page, under ``/o/<org>/settings/sso/``."""

from django.urls import path

from control_plane.sso import console_pages

app_name = "sso"

urlpatterns = [
    path("", console_pages.sso_settings, name="settings"),
    path("metadata/", console_pages.import_metadata, name="import_metadata"),
    path("scim-tokens/", console_pages.create_scim_token, name="create_scim_token"),
    path(
        "scim-tokens/<int:token_id>/revoke/",
        console_pages.revoke_scim_token,
        name="revoke_scim_token",
    ),
]
