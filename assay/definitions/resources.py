"""Resources: typed, configurable connections injected into assets by parameter name."""

from __future__ import annotations

import dataclasses
import os
import typing
from typing import Any, dataclass_transform

from assay.errors import ResourceError


class EnvVar:
    """A config value read from the environment when a run starts, not when code is loaded.

    So the same code location runs in dev and prod, and secrets never sit in code.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def get_value(self) -> str:
        try:
            return os.environ[self.name]
        except KeyError:
            raise ResourceError(f"environment variable {self.name} is not set") from None

    def __repr__(self) -> str:
        return f"EnvVar({self.name!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EnvVar) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("EnvVar", self.name))


_COERCIBLE = {str: str, int: int, float: float}


def _coerce(value: str, annotation: Any, where: str) -> Any:
    if annotation is bool:
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ResourceError(f"{where}: {value!r} is not a boolean")
    convert = _COERCIBLE.get(annotation)
    if convert is None:
        return value
    try:
        return convert(value)
    except ValueError:
        raise ResourceError(f"{where}: {value!r} is not a valid {annotation.__name__}") from None


def _check_type(value: Any, annotation: Any, where: str) -> None:
    """Reject obviously wrong config (a str where an int is declared) before user code runs."""
    if isinstance(value, EnvVar) or annotation not in (str, int, float, bool):
        return
    ok = isinstance(value, annotation) or (annotation is float and isinstance(value, int))
    if annotation is int and isinstance(value, bool):
        ok = False
    if not ok:
        raise ResourceError(
            f"{where} must be {annotation.__name__}, got {type(value).__name__} {value!r}"
        )


@dataclass_transform()
class ConfigurableResource:
    """Base class for resources: annotated class attributes become typed config fields.

    Subclasses are dataclasses; `EnvVar` values are resolved at run start, then
    `setup_for_execution` runs once per run and `teardown_after_execution` after it.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(cls)

    def setup_for_execution(self, context: Any) -> None:
        """Open connections etc.; called once per run before the first asset uses it."""

    def teardown_after_execution(self, context: Any) -> None:
        """Close what `setup_for_execution` opened; always called, even when the run fails."""

    def config_fields(self) -> dict[str, Any]:
        if not dataclasses.is_dataclass(self):
            return {}
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}

    def with_resolved_env(self) -> ConfigurableResource:
        """A copy whose `EnvVar` fields hold the environment's values, coerced to their types."""
        if not dataclasses.is_dataclass(self):
            return self
        changes: dict[str, Any] = {}
        try:
            hints = typing.get_type_hints(type(self))
        except Exception:
            hints = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name, None)
            _check_type(value, hints.get(f.name), f"{type(self).__name__}.{f.name}")
            if isinstance(value, EnvVar):
                where = f"{type(self).__name__}.{f.name}"
                try:
                    raw = value.get_value()
                except ResourceError as exc:
                    raise ResourceError(f"{where}: {exc}") from None
                changes[f.name] = _coerce(raw, hints.get(f.name), where)
        if not changes:
            return self
        resolved = dataclasses.replace(self, **changes)
        return resolved
