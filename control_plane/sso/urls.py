from django.urls import path

from control_plane.sso import views

app_name = "sso"

urlpatterns = [
    path("sso/", views.find, name="find"),
    path("sso/<slug:org>/metadata/", views.metadata, name="metadata"),
    path("sso/<slug:org>/login/", views.start, name="login"),
    path("sso/<slug:org>/acs/", views.acs, name="acs"),
]
