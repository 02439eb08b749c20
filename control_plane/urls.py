from django.urls import include, path

from control_plane.health import views as health_views

urlpatterns = [path("api/v1/", include("control_plane.api.urls"))]
urlpatterns += [path("healthz", health_views.healthz), path("readyz", health_views.readyz)]
