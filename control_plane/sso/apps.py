from django.apps import AppConfig


class SsoConfig(AppConfig):
    name = "control_plane.sso"
    label = "sso"
    verbose_name = "SAML SSO and SCIM provisioning"

    def ready(self) -> None:
        from control_plane.console import nav
        from control_plane.tenancy.roles import Action

        nav.register(
            "Single sign-on",
            "console:sso:settings",
            scope="organization",
            action=Action.MANAGE_SSO,
            order=80,
        )
        from control_plane.sso import (
            audit_actions,  # noqa: F401  (declares the actions)
            team_roles,  # noqa: F401  (new deployments get defaults)
        )
