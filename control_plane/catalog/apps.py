from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "control_plane.catalog"
    label = "catalog"
    verbose_name = "Catalog: asset definitions from snapshots, materializations, checks"
