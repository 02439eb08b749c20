from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "control_plane.core"
    label = "core"
    verbose_name = "Control plane core"

    def ready(self) -> None:
        from control_plane.core.api import schema  # noqa: F401  (registers schema extensions)
