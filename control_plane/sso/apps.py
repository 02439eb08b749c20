from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "control_plane.sso"
    label = "sso"
    verbose_name = "SAML SSO and SCIM provisioning"

    def ready(self) -> None:
        from control_plane.sso import (
            audit_actions,  # noqa: F401  (declares the actions)
            team_roles,  # noqa: F401  (new deployments get defaults)
        )
