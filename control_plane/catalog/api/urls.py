from django.urls import path

from control_plane.catalog.api import views

_ASSETS = "orgs/<slug:org>/deployments/<slug:deployment>/assets/"

urlpatterns = [
    path(_ASSETS, views.AssetListView.as_view(), name="asset-list"),
    path(_ASSETS + "<path:asset_key>/", views.AssetDetailView.as_view(), name="asset-detail"),
]
