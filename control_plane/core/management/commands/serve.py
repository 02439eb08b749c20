"""Serve the control plane's WSGI app with waitress (a production WSGI server)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the REST API (and static files) with waitress. Not Django's runserver."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=3000)
        parser.add_argument("--threads", type=int, default=8)

    def handle(self, *args, host, port, threads, **options):
        try:
            import waitress
        except ImportError as exc:
            raise CommandError("serve needs the 'waitress' package: pip install waitress") from exc

        from control_plane.wsgi import application

        # Static files (the API docs page's assets) are served in-process: they are few and
        # small, so no separate web server is needed for them.
        app = (
            StaticFilesHandler(application)
            if "django.contrib.staticfiles" in settings.INSTALLED_APPS
            else application
        )
        self.stdout.write(f"serving the control plane on http://{host}:{port}/api/v1/")
        waitress.serve(app, host=host, port=port, threads=threads, ident="assay")
