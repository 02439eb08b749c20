from django.apps import AppConfig


class RunsConfig(AppConfig):
    name = "control_plane.runs"
    label = "runs"
    verbose_name = "Runs: the run queue, the event log and run monitoring"

    def ready(self) -> None:
        from control_plane.runs import audit_actions  # noqa: F401  (declares run.* actions)
