"""Audit actions of the automation app, declared once (see ``control_plane.audit.registry``)."""

from control_plane.audit.registry import declare

SCHEDULE_UPDATE = declare("schedule.update", "a schedule was started, stopped or changed")
SENSOR_UPDATE = declare("sensor.update", "a sensor was started, stopped or its cursor reset")
AUTOMATION_UPDATE = declare(
    "automation.update", "declarative automation was turned on or off for a deployment"
)
