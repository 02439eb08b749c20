from django.apps import AppConfig


class DaemonConfig(AppConfig):
    """The daemon as an app of its own, at the top of the layers: it runs every app's loops
    (``run_daemon``), so none of the apps below it needs to know the daemon."""

    name = "control_plane.daemon"
    label = "daemon"
    verbose_name = "Daemon: the background loops of every app"
