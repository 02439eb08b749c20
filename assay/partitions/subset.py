"""Sets of partitions of one definition, stored compactly, with set algebra.

Time-window subsets are sorted, disjoint, half-open ranges of partition indices, so
100,000 hourly partitions with a few holes are a handful of integers. Static and
dynamic subsets are frozensets of keys; multi-dimensional subsets map each key of
one dimension to a subset of the other (the time dimension when there is one).
"""

from __future__ import annotations

import bisect
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from assay.partitions.errors import PartitionsDefinitionMismatch
from assay.partitions.key_range import PartitionKeyRange

if TYPE_CHECKING:
    from assay.partitions.base import PartitionsDefinition
    from assay.partitions.multi import MultiPartitionKey, MultiPartitionsDefinition
    from assay.partitions.time_window import TimeWindow, TimeWindowPartitionsDefinition

IndexRange = tuple[int, int]


class PartitionsSubset(ABC):
    """Some partitions of one definition; combine with ``|``, ``&`` and ``-``."""

    partitions_def: PartitionsDefinition

    @abstractmethod
    def __iter__(self) -> Iterator[str]: ...

    @abstractmethod
    def __len__(self) -> int: ...

    @abstractmethod
    def __contains__(self, partition_key: object) -> bool: ...

    @abstractmethod
    def _combine(self, other: PartitionsSubset, op: str) -> PartitionsSubset: ...

    @abstractmethod
    def to_serializable(self) -> dict[str, Any]:
        """A JSON-friendly form; rebuild with :func:`subset_from_serializable`."""

    def __bool__(self) -> bool:
        return len(self) > 0

    def _check_compatible(self, other: object) -> PartitionsSubset:
        if not isinstance(other, PartitionsSubset):
            raise TypeError(f"cannot combine a partitions subset with {type(other).__name__}")
        if other.partitions_def != self.partitions_def:
            raise PartitionsDefinitionMismatch(
                f"cannot combine subsets of different partitions definitions: "
                f"{self.partitions_def.describe()} and {other.partitions_def.describe()}"
            )
        return other

    def __or__(self, other: PartitionsSubset) -> PartitionsSubset:
        return self._combine(self._check_compatible(other), "or")

    def __and__(self, other: PartitionsSubset) -> PartitionsSubset:
        return self._combine(self._check_compatible(other), "and")

    def __sub__(self, other: PartitionsSubset) -> PartitionsSubset:
        return self._combine(self._check_compatible(other), "sub")

    def with_partition_keys(self, partition_keys: Iterable[str]) -> PartitionsSubset:
        """This subset plus ``partition_keys``."""
        return self | self.partitions_def.subset_with_partition_keys(partition_keys)

    def get_partition_keys(self) -> list[str]:
        """The keys, in definition order (sorted for dynamic partitions)."""
        return list(self)

    def __repr__(self) -> str:
        keys = list(self) if len(self) <= 6 else [*list(self)[:3], "...", *list(self)[-2:]]
        return f"{type(self).__name__}({len(self)} of {self.partitions_def.describe()}: {keys})"


def subset_from_serializable(
    data: Mapping[str, Any], partitions_def: PartitionsDefinition
) -> PartitionsSubset:
    """Rebuild a subset written by ``to_serializable()`` for ``partitions_def``."""
    return partitions_def.subset_from_serializable(data)


# --- index-range algebra -------------------------------------------------------


def normalize_ranges(ranges: Iterable[IndexRange]) -> tuple[IndexRange, ...]:
    """Sort, drop empty and merge overlapping or touching half-open ranges."""
    merged: list[list[int]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return tuple((s, e) for s, e in merged)


def intersect_ranges(
    left: tuple[IndexRange, ...], right: tuple[IndexRange, ...]
) -> tuple[IndexRange, ...]:
    out: list[IndexRange] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i][0], right[j][0])
        end = min(left[i][1], right[j][1])
        if start < end:
            out.append((start, end))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return tuple(out)


def subtract_ranges(
    left: tuple[IndexRange, ...], right: tuple[IndexRange, ...]
) -> tuple[IndexRange, ...]:
    out: list[IndexRange] = []
    j = 0
    for start, end in left:
        cursor = start
        while j < len(right) and right[j][1] <= cursor:
            j += 1
        k = j
        while k < len(right) and right[k][0] < end:
            if right[k][0] > cursor:
                out.append((cursor, right[k][0]))
            cursor = max(cursor, right[k][1])
            if cursor >= end:
                break
            k += 1
        if cursor < end:
            out.append((cursor, end))
    return tuple(out)


# --- time windows ----------------------------------------------------------------


class TimeWindowPartitionsSubset(PartitionsSubset):
    """Partitions of a time-window definition as sorted half-open index ranges."""

    __slots__ = ("_len", "_starts", "partitions_def", "ranges")
    partitions_def: TimeWindowPartitionsDefinition

    def __init__(
        self, partitions_def: TimeWindowPartitionsDefinition, ranges: Iterable[IndexRange] = ()
    ) -> None:
        self.partitions_def = partitions_def
        self.ranges: tuple[IndexRange, ...] = normalize_ranges(ranges)
        self._starts = [s for s, _ in self.ranges]
        self._len = sum(e - s for s, e in self.ranges)

    def __len__(self) -> int:
        return self._len

    def __iter__(self) -> Iterator[str]:
        for start, end in self.ranges:
            yield from self.partitions_def.get_partition_keys_between(start, end)

    def contains_index(self, index: int) -> bool:
        """Whether the partition at ``index`` is in the subset."""
        pos = bisect.bisect_right(self._starts, index) - 1
        return pos >= 0 and index < self.ranges[pos][1]

    def __contains__(self, partition_key: object) -> bool:
        if not isinstance(partition_key, str):
            return False
        index = self.partitions_def.get_index_for_partition_key_or_none(partition_key)
        return index is not None and self.contains_index(index)

    def _combine(self, other: PartitionsSubset, op: str) -> PartitionsSubset:
        assert isinstance(other, TimeWindowPartitionsSubset)
        if op == "or":
            ranges = normalize_ranges(self.ranges + other.ranges)
        elif op == "and":
            ranges = intersect_ranges(self.ranges, other.ranges)
        else:
            ranges = subtract_ranges(self.ranges, other.ranges)
        return TimeWindowPartitionsSubset(self.partitions_def, ranges)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TimeWindowPartitionsSubset)
            and other.partitions_def == self.partitions_def
            and other.ranges == self.ranges
        )

    def __hash__(self) -> int:
        return hash((self.partitions_def, self.ranges))

    def get_partition_key_ranges(self) -> list[PartitionKeyRange]:
        """The subset as inclusive key ranges, e.g. for a backfill summary."""
        key = self.partitions_def.get_partition_key_for_index
        return [PartitionKeyRange(key(s), key(e - 1)) for s, e in self.ranges]

    def get_time_windows(self) -> list[TimeWindow]:
        """The subset as maximal contiguous time windows."""
        window = self.partitions_def.time_window_for_index
        return [type(window(s))(window(s).start, window(e - 1).end) for s, e in self.ranges]

    def to_serializable(self) -> dict[str, Any]:
        return {
            "type": "time_window",
            "ranges": [[k.start, k.end] for k in self.get_partition_key_ranges()],
        }


# --- plain key sets (static and dynamic) -------------------------------------


class KeysPartitionsSubset(PartitionsSubset):
    """Partitions of a static or dynamic definition, as a frozenset of keys."""

    __slots__ = ("keys", "partitions_def")

    def __init__(self, partitions_def: PartitionsDefinition, keys: Iterable[str] = ()) -> None:
        self.partitions_def = partitions_def
        self.keys: frozenset[str] = frozenset(keys)

    def __len__(self) -> int:
        return len(self.keys)

    def __iter__(self) -> Iterator[str]:
        order = getattr(self.partitions_def, "key_order", None)
        if order is None:
            return iter(sorted(self.keys))
        return iter(sorted(self.keys, key=order))

    def __contains__(self, partition_key: object) -> bool:
        return partition_key in self.keys

    def _combine(self, other: PartitionsSubset, op: str) -> PartitionsSubset:
        assert isinstance(other, KeysPartitionsSubset)
        if op == "or":
            keys = self.keys | other.keys
        elif op == "and":
            keys = self.keys & other.keys
        else:
            keys = self.keys - other.keys
        return KeysPartitionsSubset(self.partitions_def, keys)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, KeysPartitionsSubset)
            and other.partitions_def == self.partitions_def
            and other.keys == self.keys
        )

    def __hash__(self) -> int:
        return hash((self.partitions_def, self.keys))

    def to_serializable(self) -> dict[str, Any]:
        return {"type": "keys", "keys": sorted(self.keys)}


# --- multi-dimensional -----------------------------------------------------------


class MultiPartitionsSubset(PartitionsSubset):
    """Partitions of a two-dimensional definition.

    Stored as ``{primary key: subset of the secondary dimension}`` where the
    secondary dimension is the time dimension when there is one: "every day of 2024
    for eu and us" is two entries of one range each, not 732 keys.
    """

    __slots__ = ("by_primary", "partitions_def")
    partitions_def: MultiPartitionsDefinition

    def __init__(
        self,
        partitions_def: MultiPartitionsDefinition,
        by_primary: Mapping[str, PartitionsSubset] | None = None,
    ) -> None:
        self.partitions_def = partitions_def
        self.by_primary: dict[str, PartitionsSubset] = {
            key: sub for key, sub in (by_primary or {}).items() if len(sub)
        }

    def __len__(self) -> int:
        return sum(len(sub) for sub in self.by_primary.values())

    def __iter__(self) -> Iterator[MultiPartitionKey]:  # type: ignore[override]
        """Keys in the order of ``get_partition_keys()``: first dimension (by name) outer."""
        multi = self.partitions_def
        make_key = multi.key_from_primary_and_secondary
        primaries = multi.primary_dimension.order_keys(self.by_primary)
        if multi.partitions_dimensions[0] is multi.primary_dimension:
            for primary in primaries:
                for secondary in self.by_primary[primary]:
                    yield make_key(primary, secondary)
            return
        rank = {key: i for i, key in enumerate(primaries)}
        pairs = [(s, p) for p in primaries for s in self.by_primary[p]]
        order = multi.secondary_dimension.order_keys({s for s, _ in pairs})
        position = {key: i for i, key in enumerate(order)}
        for secondary, primary in sorted(pairs, key=lambda sp: (position[sp[0]], rank[sp[1]])):
            yield make_key(primary, secondary)

    def __contains__(self, partition_key: object) -> bool:
        if not isinstance(partition_key, str):
            return False
        split = self.partitions_def.split_key_or_none(partition_key)
        if split is None:
            return False
        primary, secondary = split
        sub = self.by_primary.get(primary)
        return sub is not None and secondary in sub

    def _combine(self, other: PartitionsSubset, op: str) -> PartitionsSubset:
        assert isinstance(other, MultiPartitionsSubset)
        result: dict[str, PartitionsSubset] = {}
        if op == "or":
            result = dict(self.by_primary)
            for key, sub in other.by_primary.items():
                result[key] = result[key] | sub if key in result else sub
        elif op == "and":
            for key, sub in self.by_primary.items():
                if key in other.by_primary:
                    result[key] = sub & other.by_primary[key]
        else:
            for key, sub in self.by_primary.items():
                result[key] = sub - other.by_primary[key] if key in other.by_primary else sub
        return MultiPartitionsSubset(self.partitions_def, result)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MultiPartitionsSubset)
            and other.partitions_def == self.partitions_def
            and other.by_primary == self.by_primary
        )

    def __hash__(self) -> int:
        return hash((self.partitions_def, frozenset(self.by_primary.items())))

    def to_serializable(self) -> dict[str, Any]:
        return {
            "type": "multi",
            "primary": self.partitions_def.primary_dimension.name,
            "subsets": {k: sub.to_serializable() for k, sub in sorted(self.by_primary.items())},
        }
