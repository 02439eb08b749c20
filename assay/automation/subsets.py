"""Partition subsets of any asset, partitioned or not, and moving them along an edge.

Partitioned assets use :mod:`assay.partitions` subsets directly; an unpartitioned
asset uses :class:`UnpartitionedSubset`, a one-element set, so every condition is
written once against the same algebra (``|``, ``&``, ``-``, ``len``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any, Union

from assay.automation.errors import AutomationError
from assay.partitions import (
    DynamicPartitionsStore,
    IdentityPartitionMapping,
    MultiPartitionsDefinition,
    PartitionMapping,
    PartitionsDefinition,
    PartitionsError,
    PartitionsSubset,
    TimeWindowPartitionsDefinition,
    TimeWindowPartitionsSubset,
)
from assay.partitions.subset import intersect_ranges, normalize_ranges, subtract_ranges


class UnpartitionedSubset:
    """The subset of an unpartitioned asset: either the asset itself, or nothing."""

    __slots__ = ("present",)
    partitions_def = None

    def __init__(self, present: bool) -> None:
        self.present = bool(present)

    def __or__(self, other: AssetSubset) -> UnpartitionedSubset:
        return _UNPARTITIONED[self.present or bool(other)]

    def __and__(self, other: AssetSubset) -> UnpartitionedSubset:
        return _UNPARTITIONED[self.present and bool(other)]

    def __sub__(self, other: AssetSubset) -> UnpartitionedSubset:
        return _UNPARTITIONED[self.present and not other]

    def __len__(self) -> int:
        return 1 if self.present else 0

    def __bool__(self) -> bool:
        return self.present

    def __iter__(self) -> Iterator[None]:
        if self.present:
            yield None

    def __contains__(self, partition_key: object) -> bool:
        return self.present and partition_key is None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnpartitionedSubset) and other.present == self.present

    def __hash__(self) -> int:
        return hash(self.present)

    def to_serializable(self) -> dict[str, Any]:
        return {"type": "unpartitioned", "present": self.present}

    def __repr__(self) -> str:
        return f"UnpartitionedSubset({self.present})"


_UNPARTITIONED = {False: UnpartitionedSubset(False), True: UnpartitionedSubset(True)}
EMPTY_UNPARTITIONED = _UNPARTITIONED[False]
ALL_UNPARTITIONED = _UNPARTITIONED[True]

AssetSubset = Union[PartitionsSubset, UnpartitionedSubset]  # noqa: UP007 (used at runtime)


_EMPTY: dict[int, tuple[PartitionsDefinition, AssetSubset]] = {}


def empty_subset(partitions_def: PartitionsDefinition | None) -> AssetSubset:
    """No partitions of an asset with ``partitions_def`` (None: unpartitioned).

    Cached per definition object (subsets are immutable): a tick asks thousands of times.
    """
    if partitions_def is None:
        return EMPTY_UNPARTITIONED
    cached = _EMPTY.get(id(partitions_def))
    if cached is None:
        if len(_EMPTY) > 1024:
            _EMPTY.clear()
        cached = _EMPTY[id(partitions_def)] = (partitions_def, partitions_def.empty_subset())
    return cached[1]


def all_subset(
    partitions_def: PartitionsDefinition | None,
    current_time: datetime,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> AssetSubset:
    """Every partition that exists at ``current_time`` (dynamic keys: in the store)."""
    if partitions_def is None:
        return ALL_UNPARTITIONED
    try:
        return partitions_def.subset_with_all_partitions(current_time, dynamic_partitions_store)
    except PartitionsError as exc:
        raise AutomationError(
            f"cannot list the partitions of {partitions_def.describe()}: {exc}"
        ) from exc


def subset_of_keys(
    partitions_def: PartitionsDefinition | None, partition_keys: Iterable[str | None]
) -> AssetSubset:
    """The subset naming ``partition_keys`` (for an unpartitioned asset: any key means it)."""
    if partitions_def is None:
        return _UNPARTITIONED[any(True for _ in partition_keys)]
    return partitions_def.subset_with_partition_keys(k for k in partition_keys if k is not None)


def subset_of_known_keys(
    partitions_def: PartitionsDefinition, partition_keys: Sequence[str]
) -> AssetSubset:
    """The subset naming those of ``partition_keys`` the definition has: stored history may
    hold keys of an earlier partitioning, which status reads must skip, not fail on."""
    try:
        return partitions_def.subset_with_partition_keys(partition_keys)
    except PartitionsError:
        known = []
        for key in partition_keys:
            try:
                partitions_def.subset_with_partition_keys([key])
            except PartitionsError:
                continue
            known.append(key)
        return partitions_def.subset_with_partition_keys(known)


def subset_from_serializable(
    data: dict[str, Any], partitions_def: PartitionsDefinition | None
) -> AssetSubset:
    """Rebuild a subset; raises AutomationError when it no longer fits the definition."""
    if data.get("type") == "unpartitioned":
        if partitions_def is not None:
            raise AutomationError("stored subset is unpartitioned but the asset is partitioned")
        return _UNPARTITIONED[bool(data.get("present"))]
    if partitions_def is None:
        raise AutomationError("stored subset is partitioned but the asset is unpartitioned")
    try:
        return partitions_def.subset_from_serializable(data)
    except PartitionsError as exc:
        raise AutomationError(
            f"stored subset does not fit {partitions_def.describe()}: {exc}"
        ) from exc


def latest_window_subset(
    partitions_def: PartitionsDefinition | None,
    current_time: datetime,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> AssetSubset:
    """The most recent time window: the last partition of a time-window definition, the
    last window of every key of the other dimension (date x region: yesterday of each
    region), and everything for assets not partitioned by time."""
    if isinstance(partitions_def, TimeWindowPartitionsDefinition):
        count = partitions_def.get_num_partitions(current_time)
        return partitions_def.subset_with_index_ranges([(count - 1, count)] if count else [])
    if isinstance(partitions_def, MultiPartitionsDefinition):
        time_dimension = partitions_def.time_window_dimension
        if time_dimension is not None:
            try:
                other = partitions_def.primary_dimension.partitions_def.subset_with_all_partitions(
                    current_time, dynamic_partitions_store
                )
            except PartitionsError as exc:
                raise AutomationError(
                    f"cannot list the partitions of {partitions_def.describe()}: {exc}"
                ) from exc
            latest = latest_window_subset(time_dimension.partitions_def, current_time)
            return partitions_def.subset_from_product(other, latest)  # type: ignore[arg-type]
    return all_subset(partitions_def, current_time, dynamic_partitions_store)


def map_to_child(
    subset: AssetSubset,
    *,
    parent_def: PartitionsDefinition | None,
    child_def: PartitionsDefinition | None,
    mapping: PartitionMapping,
    child_all: AssetSubset,
    current_time: datetime,
    dynamic_partitions_store: DynamicPartitionsStore | None = None,
) -> AssetSubset:
    """The child partitions that read any partition of ``subset`` of the parent."""
    if not subset:
        return empty_subset(child_def)
    if parent_def is None:
        return child_all
    if child_def is None:
        affected = mapping.affects_unpartitioned_downstream(
            subset,  # type: ignore[arg-type]
            current_time=current_time,
            dynamic_partitions_store=dynamic_partitions_store,
        )
        return _UNPARTITIONED[affected]
    same_def = parent_def is child_def or parent_def == child_def
    if same_def and isinstance(mapping, IdentityPartitionMapping):
        return subset
    try:
        return mapping.downstream_partitions_for(
            subset,  # type: ignore[arg-type]
            child_def,
            current_time=current_time,
            dynamic_partitions_store=dynamic_partitions_store,
        )
    except PartitionsError as exc:
        raise AutomationError(
            f"cannot map {parent_def.describe()} onto {child_def.describe()} "
            f"with {type(mapping).__name__}: {exc}"
        ) from exc


# -- fast set algebra --------------------------------------------------------------------
# Automation combines tens of subsets per asset per tick. These helpers skip the work
# when one side is empty or both are equal, and for time-window subsets of the same
# definition object build the result straight from already-normalised ranges.

_TIME_WINDOW_SLOTS = {"_len", "_starts", "partitions_def", "ranges"}
_FAST_TIME_WINDOWS = set(getattr(TimeWindowPartitionsSubset, "__slots__", ())) >= _TIME_WINDOW_SLOTS


def _time_window(
    partitions_def: TimeWindowPartitionsDefinition, ranges: tuple[tuple[int, int], ...]
) -> TimeWindowPartitionsSubset:
    subset = object.__new__(TimeWindowPartitionsSubset)
    subset.partitions_def = partitions_def
    subset.ranges = ranges
    subset._starts = [start for start, _ in ranges]
    subset._len = sum(end - start for start, end in ranges)
    return subset


def _both_time_windows(a: AssetSubset, b: AssetSubset) -> bool:
    return (
        _FAST_TIME_WINDOWS
        and type(a) is TimeWindowPartitionsSubset
        and type(b) is TimeWindowPartitionsSubset
        and a.partitions_def is b.partitions_def
    )


def union(a: AssetSubset, b: AssetSubset) -> AssetSubset:
    """``a | b``."""
    if not b:
        return a
    if not a:
        return b
    if _both_time_windows(a, b):
        if a.ranges == b.ranges:  # type: ignore[union-attr]
            return a
        return _time_window(a.partitions_def, normalize_ranges(a.ranges + b.ranges))  # type: ignore[union-attr,arg-type]
    return a | b  # type: ignore[operator]


def intersect(a: AssetSubset, b: AssetSubset) -> AssetSubset:
    """``a & b``."""
    if not a:
        return a
    if not b:
        return b
    if _both_time_windows(a, b):
        if a.ranges == b.ranges:  # type: ignore[union-attr]
            return a
        return _time_window(a.partitions_def, intersect_ranges(a.ranges, b.ranges))  # type: ignore[union-attr,arg-type]
    return a & b  # type: ignore[operator]


def subtract(a: AssetSubset, b: AssetSubset) -> AssetSubset:
    """``a - b``."""
    if not a or not b:
        return a
    if _both_time_windows(a, b):
        ranges = subtract_ranges(a.ranges, b.ranges)  # type: ignore[union-attr]
        return a if ranges == a.ranges else _time_window(a.partitions_def, ranges)  # type: ignore[union-attr,arg-type]
    return a - b  # type: ignore[operator]


def same(a: AssetSubset, b: AssetSubset) -> bool:
    """Whether two subsets hold the same partitions (cheap for the common cases)."""
    if a is b:
        return True
    if _both_time_windows(a, b):
        return a.ranges == b.ranges  # type: ignore[union-attr]
    return a == b
