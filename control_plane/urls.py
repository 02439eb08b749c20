from django.urls import include, path

urlpatterns = [path("api/v1/", include("control_plane.api.urls"))]
