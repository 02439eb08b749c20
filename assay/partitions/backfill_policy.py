"""Backfill policy: how an asset's partitions are grouped into runs during a backfill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from assay.partitions.errors import InvalidPartitionsDefinition

__all__ = ["BackfillPolicy"]


@dataclass(frozen=True)
class BackfillPolicy:
    """``single_run()`` puts every requested partition in one run (for engines that
    process a range at once, e.g. one SQL statement); ``multi_run(n)`` launches runs of
    at most ``n`` partitions each, so one bad day fails only its own run."""

    max_partitions_per_run: int | None = 1

    def __post_init__(self) -> None:
        n = self.max_partitions_per_run
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
            raise InvalidPartitionsDefinition(
                f"max_partitions_per_run must be a positive int or None, got {n!r}"
            )

    @classmethod
    def single_run(cls) -> BackfillPolicy:
        """All partitions of a backfill in one run."""
        return cls(max_partitions_per_run=None)

    @classmethod
    def multi_run(cls, max_partitions_per_run: int = 1) -> BackfillPolicy:
        """Runs of at most ``max_partitions_per_run`` partitions each."""
        return cls(max_partitions_per_run=max_partitions_per_run)

    def to_snapshot(self) -> dict[str, int | None]:
        """A JSON-friendly description for the code location snapshot."""
        return {"max_partitions_per_run": self.max_partitions_per_run}

    @property
    def is_single_run(self) -> bool:
        """Whether the whole backfill goes in one run."""
        return self.max_partitions_per_run is None

    def chunk(self, partition_keys: Sequence[str]) -> list[list[str]]:
        """Split ordered ``partition_keys`` into the key lists of the runs to launch."""
        keys = list(partition_keys)
        if not keys:
            return []
        size = self.max_partitions_per_run or len(keys)
        return [keys[i : i + size] for i in range(0, len(keys), size)]
