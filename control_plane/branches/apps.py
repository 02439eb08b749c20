from django.apps import AppConfig


class BranchesConfig(AppConfig):
    name = "control_plane.branches"
    label = "branches"
    verbose_name = "Branch deployments: one per pull request, what it changes, torn down on close"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from control_plane.branches import audit_actions  # noqa: F401  (declares branch.*)
        from control_plane.console import nav

        nav.register("Branch changes", "console:branches:diff", scope="deployment", order=37)
