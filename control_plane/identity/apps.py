from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "control_plane.identity"
    label = "identity"
    verbose_name = "Sign-in, sessions and invitations"

    def ready(self) -> None:
        from axes.signals import user_locked_out
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from control_plane.identity import (
            audit_actions,  # noqa: F401  (declares them)
            sign_in_audit,
        )

        user_logged_in.connect(sign_in_audit.on_sign_in, dispatch_uid="identity.sign_in")
        user_login_failed.connect(sign_in_audit.on_sign_in_failed, dispatch_uid="identity.failed")
        user_locked_out.connect(sign_in_audit.on_locked_out, dispatch_uid="identity.locked_out")
