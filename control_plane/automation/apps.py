from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "control_plane.automation"
    label = "automation"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from control_plane.automation import audit_actions  # noqa: F401  (declares actions)
