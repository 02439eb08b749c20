"""An inclusive range of partition keys, e.g. a backfill's "from 2024-01-01 to 2024-03-31"."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class PartitionKeyRange:
    """Partition keys from ``start`` to ``end``, both included, in definition order."""

    start: str
    end: str
