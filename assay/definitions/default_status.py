"""Whether a schedule or sensor runs as soon as its code is deployed.

Stopped by default, so deploying code never starts launching runs by surprise; a
person starts it (through the API or console), or the code says
``default_status="running"``. Dagster spells the values as enums, so both are accepted.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from assay.errors import DefinitionError


class DefaultScheduleStatus(StrEnum):
    """A schedule's status until someone starts or stops it."""

    RUNNING = "running"
    STOPPED = "stopped"


class DefaultSensorStatus(StrEnum):
    """A sensor's status until someone starts or stops it."""

    RUNNING = "running"
    STOPPED = "stopped"


S = TypeVar("S", DefaultScheduleStatus, DefaultSensorStatus)


def coerce_default_status(value: object, kind: type[S], *, where: str) -> S:
    """``"running"``/``"stopped"`` (any case) or an enum member, as ``kind``; else a clear error."""
    if isinstance(value, str):
        try:
            return kind(value.lower())
        except ValueError:
            pass
    raise DefinitionError(
        f"{where}: default_status must be 'running' or 'stopped' "
        f"(or {kind.__name__}.RUNNING / .STOPPED), got {value!r}"
    )
