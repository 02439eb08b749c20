"""Typed errors for partitions: each message says what was wrong and what is valid."""

from __future__ import annotations

from assay.schedules import InvalidCronSchedule, InvalidTimezone

__all__ = [
    "InvalidCronSchedule",
    "InvalidPartitionsDefinition",
    "InvalidTimezone",
    "PartitionsDefinitionMismatch",
    "PartitionsError",
    "UnknownPartitionKey",
]


class PartitionsError(ValueError):
    """Base class of every partitions error."""


class InvalidPartitionsDefinition(PartitionsError):
    """A partitions definition built from inconsistent arguments (e.g. end before start)."""


class UnknownPartitionKey(PartitionsError):
    """A partition key that the partitions definition does not contain."""

    def __init__(self, key: object, description: str, *, hint: str = "") -> None:
        self.key = key
        message = f"unknown partition key {key!r} for {description}"
        super().__init__(f"{message}: {hint}" if hint else message)


class PartitionsDefinitionMismatch(PartitionsError):
    """Two subsets or a mapping combined over incompatible partitions definitions."""
