"""WSGI entry point (``control_plane.wsgi:application``): Django, and the MCP server at
``/mcp/`` beside it (``control_plane.mcp_server.wsgi``)."""

import os

from django.core.wsgi import get_wsgi_application

from control_plane.mcp_server.wsgi import with_mcp

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "control_plane.settings")
application = with_mcp(get_wsgi_application())
