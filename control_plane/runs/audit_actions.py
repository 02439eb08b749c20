"""Audit actions of the runs app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

RUN_LAUNCH = declare("run.launch", "a run was queued")
RUN_TERMINATE = declare("run.terminate", "termination of a run was requested")
