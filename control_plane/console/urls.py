"""Console URLs. An app adds its pages with one include in ORGANIZATION or DEPLOYMENT below."""

from django.urls import include, path

from control_plane.console import views

app_name = "console"

# Pages under /o/<org>/d/<deployment>/ (views decorated with console_view()).
DEPLOYMENT = [
    path("", views.deployment, name="deployment"),
]

# Pages under /o/<org>/ that are not about one deployment (settings, billing...).
ORGANIZATION = [
    path("", views.organization, name="organization"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("switch/", views.switch, name="switch"),
    path("o/<slug:org>/d/<str:deployment>/", include(DEPLOYMENT)),
    path("o/<slug:org>/", include(ORGANIZATION)),
]
