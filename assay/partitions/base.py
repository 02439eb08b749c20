"""The interface every partitions definition shares."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from assay.partitions.subset import PartitionsSubset


@runtime_checkable
class DynamicPartitionsStore(Protocol):
    """Where the keys of dynamic partitions live (an instance, a database, a dict)."""

    def get_dynamic_partitions(self, partitions_def_name: str) -> Sequence[str]:
        """The keys currently registered under ``partitions_def_name``, in insertion order."""
        ...

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        """Whether ``partition_key`` is currently registered under ``partitions_def_name``."""
        ...


def resolve_current_time(current_time: datetime | None) -> datetime:
    """``current_time`` as an aware UTC datetime; the wall clock only when none is given."""
    if current_time is None:
        return datetime.now(UTC)
    if current_time.tzinfo is None:
        return current_time.replace(tzinfo=UTC)
    return current_time.astimezone(UTC)


class PartitionsDefinition(ABC):
    """A set of partition keys, ordered, that an asset is split into.

    Definitions are immutable values: two definitions built from the same arguments
    are equal and hash alike, so they can key caches and be compared across assets.
    """

    @abstractmethod
    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> Sequence[str]:
        """All keys that exist at ``current_time``, in order."""

    @abstractmethod
    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        """Whether ``partition_key`` exists at ``current_time``."""

    @abstractmethod
    def empty_subset(self) -> PartitionsSubset:
        """A subset of this definition with no keys."""

    @abstractmethod
    def subset_with_partition_keys(self, partition_keys: Iterable[str]) -> PartitionsSubset:
        """A subset holding ``partition_keys``; raises :class:`UnknownPartitionKey` on a bad key."""

    @abstractmethod
    def subset_from_serializable(self, data: Any) -> PartitionsSubset:
        """Rebuild a subset of this definition from ``PartitionsSubset.to_serializable()``."""

    @abstractmethod
    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-friendly description; :func:`partitions_def_from_snapshot` inverts it."""

    @abstractmethod
    def describe(self) -> str:
        """A short human description used in error messages."""

    def subset_with_all_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """A subset holding every key that exists at ``current_time``."""
        return self.subset_with_partition_keys(
            self.get_partition_keys(current_time, dynamic_partitions_store)
        )

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        """How many keys exist at ``current_time``."""
        return len(self.get_partition_keys(current_time, dynamic_partitions_store))

    def get_first_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        """The first key, or None when there are none yet."""
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[0] if keys else None

    def get_last_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        """The last key, or None when there are none yet."""
        keys = self.get_partition_keys(current_time, dynamic_partitions_store)
        return keys[-1] if keys else None

    def __repr__(self) -> str:
        return self.describe()
