from django.apps import AppConfig


class CatalogConfig(AppConfig):
    name = "control_plane.catalog"
    label = "catalog"
    verbose_name = "Catalog: asset definitions from snapshots, materializations, checks"

    def ready(self) -> None:
        from control_plane.console import nav

        nav.register("Search", "console:catalog:search", scope="deployment", order=35)
