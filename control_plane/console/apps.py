from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    name = "control_plane.console"
    label = "console"
    verbose_name = "The web console"

    def ready(self) -> None:
        from control_plane.console import pages  # noqa: F401  (registers the console's own nav)
