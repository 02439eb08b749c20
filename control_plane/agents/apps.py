from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "control_plane.agents"
    label = "agents"
    verbose_name = "Agents: the gRPC endpoint, agent sessions and dispatch"
