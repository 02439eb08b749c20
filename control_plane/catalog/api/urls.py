from django.urls import path

from control_plane.catalog.api import views

_DEPLOYMENT = "orgs/<slug:org>/deployments/<slug:deployment>/"
_ASSETS = _DEPLOYMENT + "assets/"

urlpatterns = [
    path(_ASSETS, views.AssetListView.as_view(), name="asset-list"),
    # Beside assets/, not under it: any path below assets/ is an asset key.
    path(_DEPLOYMENT + "asset-search/", views.AssetSearchView.as_view(), name="asset-search"),
    path(_ASSETS + "<path:asset_key>/", views.AssetDetailView.as_view(), name="asset-detail"),
]
