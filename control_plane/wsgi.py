"""WSGI entry point (``control_plane.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
application = get_wsgi_application()
