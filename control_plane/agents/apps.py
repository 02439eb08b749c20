from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "control_plane.agents"
    label = "agents"
    verbose_name = "Agents: the gRPC endpoint, agent sessions and dispatch"

    def ready(self) -> None:
        from control_plane.agents import audit_actions  # noqa: F401  (declares actions)
