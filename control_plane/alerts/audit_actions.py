"""Audit actions of the alerts app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

ALERT_POLICY_CREATE = declare("alert_policy.create", "an alert policy was created")
ALERT_POLICY_UPDATE = declare("alert_policy.update", "an alert policy was changed")
ALERT_POLICY_DELETE = declare("alert_policy.delete", "an alert policy was deleted")
