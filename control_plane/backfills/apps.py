from django.apps import AppConfig


class BackfillsConfig(AppConfig):
    name = "control_plane.backfills"
    label = "backfills"
    verbose_name = "Backfills: partition ranges run by the daemon, run by run"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from control_plane.backfills import audit_actions  # noqa: F401  (declares backfill.*)
