"""What every tenancy service shares: the audit row, field snapshots, unique saves."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from control_plane.tenancy.errors import DuplicateName


def snapshot(obj: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    values = {}
    for name in fields:
        value = getattr(obj, name)
        values[name] = value.isoformat() if isinstance(value, datetime) else value
    return values


def save_unique(obj: Any, message: str) -> None:
    try:
        with transaction.atomic():
            obj.save()
    except IntegrityError as exc:
        raise DuplicateName(message) from exc
