"""Typed errors of declarative automation, each with a message for a person."""

from __future__ import annotations

from assay.errors import AssayError


class AutomationError(AssayError):
    """Automation could not be evaluated as declared."""


class InvalidAutomationCondition(AutomationError):
    """A condition was built from bad input (an invalid cron, an unknown time zone, ...)."""


class InvalidAutomationCursor(AutomationError):
    """A stored cursor could not be read back."""
