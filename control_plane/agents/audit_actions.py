"""Audit actions of the agents app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

CODE_LOCATION_RELOAD = declare(
    "code_location.reload", "agents were asked to reload a code location"
)
