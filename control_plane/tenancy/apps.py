from django.apps import AppConfig


class TenancyConfig(AppConfig):
    name = "control_plane.tenancy"
    label = "tenancy"
    verbose_name = "Tenancy: organizations, deployments, roles and tokens"
