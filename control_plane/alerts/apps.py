from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "control_plane.alerts"
    label = "alerts"
    verbose_name = "Alerts: policies, incidents and their email and webhook deliveries"

    def ready(self) -> None:
        from control_plane.alerts import audit_actions  # noqa: F401  (declares alert_policy.*)
