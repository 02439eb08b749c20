"""Naming rules shared by the REST serializers and the services operators' commands call.

The API checks input in its serializers; management commands reach the services directly,
so the services check again with the same rules and raise ``InvalidInput`` naming the field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, MaxLengthValidator, RegexValidator

from control_plane.core.errors import InvalidInput

SLUG_RULE = RegexValidator(
    r"^[a-z0-9][a-z0-9-]*\Z",
    "Use lower-case letters, digits and hyphens; start with a letter or digit.",
)
LOCATION_RULE = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9_.-]*\Z",
    "Use letters, digits, '_', '.' and '-'; start with a letter or digit.",
)
ORGANIZATION_SLUG_MAX = 40
ORGANIZATION_NAME_MAX = 200
TOKEN_NAME_MAX = 100


def _required(value: Any) -> None:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationError("This field is required.")


def required_text(max_length: int, *rules: Callable[[Any], None]) -> list[Callable[[Any], None]]:
    """A non-blank string of at most ``max_length`` characters that passes ``rules``."""
    return [_required, MaxLengthValidator(max_length), *rules]


EMAIL = required_text(254, EmailValidator())


def check(**fields: tuple[Any, list[Callable[[Any], None]]]) -> None:
    """Run each field's validators; raise one ``InvalidInput`` listing every failing field."""
    errors: dict[str, list[str]] = {}
    for name, (value, validators) in fields.items():
        for validator in validators:
            try:
                validator(value)
            except ValidationError as error:
                errors.setdefault(name, []).extend(error.messages)
                break  # later rules assume the earlier ones held
    if errors:
        raise InvalidInput(fields=errors)
