"""Partition mappings: which upstream partitions a downstream partition reads.

Every mapping answers both directions on whole subsets, so that planning a backfill
("what must exist upstream?") and propagating a change ("what downstream is now
stale?") cost time proportional to the number of ranges, not of partitions:

* ``upstream_partitions_for(downstream_subset, upstream_partitions_def)``
* ``downstream_partitions_for(upstream_subset, downstream_partitions_def)``

An unpartitioned side is written ``None``: ``upstream_partitions_for(None, ...)`` asks
what an unpartitioned downstream asset reads; for an unpartitioned downstream asset
use ``affects_unpartitioned_downstream(upstream_subset)``. Upstream partitions that do
not exist yet (in the future of ``current_time``) are included in what is required:
intersect with ``subset_with_all_partitions()`` to drop them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.dynamic import DynamicPartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition, PartitionsDefinitionMismatch
from assay.partitions.multi import MultiPartitionsDefinition
from assay.partitions.subset import (
    MultiPartitionsSubset,
    PartitionsSubset,
    TimeWindowPartitionsSubset,
)
from assay.partitions.time_window import TimeWindowPartitionsDefinition

__all__ = [
    "AllPartitionMapping",
    "DimensionPartitionMapping",
    "IdentityPartitionMapping",
    "LastPartitionMapping",
    "MultiPartitionMapping",
    "MultiToSingleDimensionPartitionMapping",
    "PartitionMapping",
    "StaticPartitionMapping",
    "TimeWindowPartitionMapping",
    "infer_partition_mapping",
]


class PartitionMapping(ABC):
    """How the partitions of a downstream asset depend on those of an upstream asset."""

    @abstractmethod
    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """The upstream partitions that ``downstream_subset`` reads."""

    @abstractmethod
    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        """The downstream partitions that read any of ``upstream_subset``."""

    def to_snapshot(self) -> dict[str, Any]:
        """A JSON-friendly description; :func:`partition_mapping_from_snapshot` inverts it."""
        return {"type": type(self).__name__}

    def affects_unpartitioned_downstream(
        self,
        upstream_subset: PartitionsSubset,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        """Whether an unpartitioned downstream asset reads any of ``upstream_subset``."""
        required = self.upstream_partitions_for(
            None,
            upstream_subset.partitions_def,
            current_time=current_time,
            dynamic_partitions_store=dynamic_partitions_store,
        )
        return bool(required & upstream_subset)


def _require_partitioned(
    subset: PartitionsSubset | None, mapping: PartitionMapping
) -> PartitionsSubset:
    if subset is None:
        raise PartitionsDefinitionMismatch(
            f"{type(mapping).__name__} needs a partitioned downstream asset; "
            "use AllPartitionMapping or LastPartitionMapping for an unpartitioned one"
        )
    return subset


def _keys_into(
    keys: list[str],
    target: PartitionsDefinition,
    current_time: datetime | None,
    store: DynamicPartitionsStore | None,
) -> PartitionsSubset:
    """The keys that are also keys of ``target``.

    Time-window keys are checked by shape (not against the clock); dynamic keys are
    checked in the store when one is given, and trusted otherwise.
    """
    if isinstance(target, TimeWindowPartitionsDefinition):
        index = target.get_index_for_partition_key_or_none
        return target.subset_with_partition_keys([k for k in keys if index(k) is not None])
    if isinstance(target, DynamicPartitionsDefinition) and store is None:
        return target.subset_with_partition_keys(keys)
    return target.subset_with_partition_keys(
        [k for k in keys if target.has_partition_key(k, current_time, store)]
    )


@dataclass(frozen=True)
class IdentityPartitionMapping(PartitionMapping):
    """Partition ``k`` downstream reads partition ``k`` upstream (default for equal definitions)."""

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        subset = _require_partitioned(downstream_subset, self)
        if subset.partitions_def == upstream_partitions_def:
            return subset
        return _keys_into(
            list(subset), upstream_partitions_def, current_time, dynamic_partitions_store
        )

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        if upstream_subset.partitions_def == downstream_partitions_def:
            return upstream_subset
        return _keys_into(
            list(upstream_subset), downstream_partitions_def, current_time, dynamic_partitions_store
        )


@dataclass(frozen=True)
class AllPartitionMapping(PartitionMapping):
    """Every downstream partition reads every upstream partition (and an unpartitioned asset
    reads them all, e.g. a model trained on the full history)."""

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        if downstream_subset is not None and not downstream_subset:
            return upstream_partitions_def.empty_subset()
        return upstream_partitions_def.subset_with_all_partitions(
            current_time, dynamic_partitions_store
        )

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        if not upstream_subset:
            return downstream_partitions_def.empty_subset()
        return downstream_partitions_def.subset_with_all_partitions(
            current_time, dynamic_partitions_store
        )

    def affects_unpartitioned_downstream(
        self,
        upstream_subset: PartitionsSubset,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        return bool(upstream_subset)


@dataclass(frozen=True)
class LastPartitionMapping(PartitionMapping):
    """Every downstream partition reads only the latest upstream partition."""

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        last = upstream_partitions_def.get_last_partition_key(
            current_time, dynamic_partitions_store
        )
        if last is None or (downstream_subset is not None and not downstream_subset):
            return upstream_partitions_def.empty_subset()
        return upstream_partitions_def.subset_with_partition_keys([last])

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        if self.affects_unpartitioned_downstream(
            upstream_subset,
            current_time=current_time,
            dynamic_partitions_store=dynamic_partitions_store,
        ):
            return downstream_partitions_def.subset_with_all_partitions(
                current_time, dynamic_partitions_store
            )
        return downstream_partitions_def.empty_subset()

    def affects_unpartitioned_downstream(
        self,
        upstream_subset: PartitionsSubset,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        last = upstream_subset.partitions_def.get_last_partition_key(
            current_time, dynamic_partitions_store
        )
        return last is not None and last in upstream_subset


def _require_time(pd: PartitionsDefinition, side: str) -> TimeWindowPartitionsDefinition:
    if not isinstance(pd, TimeWindowPartitionsDefinition):
        raise PartitionsDefinitionMismatch(
            f"TimeWindowPartitionMapping needs time-window partitions {side}, got {pd.describe()}"
        )
    return pd


def _ceil_index(pd: TimeWindowPartitionsDefinition, moment: datetime) -> int:
    """The number of windows of ``pd`` (from index 0 on) that start before ``moment``."""
    index = pd.floor_index(moment)
    return index if pd.tick(index) == moment else index + 1


def _aligned_shift(
    source: TimeWindowPartitionsDefinition, target: TimeWindowPartitionsDefinition
) -> int | None:
    """When both definitions tick alike, the constant index offset from source to target."""
    if source.cron_schedule != target.cron_schedule or source.timezone != target.timezone:
        return None
    shift = target.floor_index(source.tick(0))
    return shift if target.tick(shift) == source.tick(0) else None


@dataclass(frozen=True)
class TimeWindowPartitionMapping(PartitionMapping):
    """A downstream window reads the upstream windows overlapping it, shifted by offsets.

    Offsets count upstream partitions: ``start_offset=-1, end_offset=-1`` reads the
    previous partition (yesterday's data for today's partition), ``start_offset=-6``
    reads a trailing week of daily partitions. Different granularities map by
    overlap: a monthly partition reads the month's daily partitions.
    """

    start_offset: int = 0
    end_offset: int = 0

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "start_offset": self.start_offset,
            "end_offset": self.end_offset,
        }

    def __post_init__(self) -> None:
        if self.start_offset > self.end_offset:
            raise InvalidPartitionsDefinition(
                f"start_offset ({self.start_offset}) is after end_offset ({self.end_offset})"
            )

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        subset = _require_partitioned(downstream_subset, self)
        down = _require_time(subset.partitions_def, "downstream")
        up = _require_time(upstream_partitions_def, "upstream")
        assert isinstance(subset, TimeWindowPartitionsSubset)
        shift = _aligned_shift(down, up)
        if shift is not None:  # same cadence: pure index arithmetic
            so, eo = shift + self.start_offset, shift + self.end_offset
            return up.subset_with_index_ranges((s + so, e + eo) for s, e in subset.ranges)
        ranges = []
        for start, end in subset.ranges:
            first, stop = up.index_range_overlapping(down.tick(start), down.tick(end))
            ranges.append((first + self.start_offset, stop + self.end_offset))
        return up.subset_with_index_ranges(ranges)

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        up = _require_time(upstream_subset.partitions_def, "upstream")
        down = _require_time(downstream_partitions_def, "downstream")
        assert isinstance(upstream_subset, TimeWindowPartitionsSubset)
        shift = _aligned_shift(up, down)
        if shift is not None:  # same cadence: d reads [d + start_offset, d + end_offset]
            lo, hi = shift - self.end_offset, shift - self.start_offset
            return down.subset_with_index_ranges(
                (s + lo, e + hi) for s, e in upstream_subset.ranges
            )
        ranges = []
        for start, end in upstream_subset.ranges:
            # Downstream d reads [first(d) + start_offset, last(d) + end_offset]; that
            # meets [start, end) exactly for the d computed here.
            first = down.floor_index(up.tick(start - self.end_offset))
            stop = _ceil_index(down, up.tick(end - self.start_offset))
            ranges.append((first, stop))
        return down.subset_with_index_ranges(ranges)


@dataclass(frozen=True, eq=False)
class StaticPartitionMapping(PartitionMapping):
    """An explicit table: ``{downstream key: upstream key or keys}``.

    Note the direction: this reads "partition X downstream needs these upstream".
    Downstream keys not in the table read nothing.
    """

    upstream_partition_keys_by_downstream_partition_key: Mapping[str, str | Collection[str]]
    _normalised: dict[str, frozenset[str]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        table = {
            down: frozenset([up]) if isinstance(up, str) else frozenset(up)
            for down, up in self.upstream_partition_keys_by_downstream_partition_key.items()
        }
        object.__setattr__(self, "_normalised", table)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, StaticPartitionMapping) and other._normalised == self._normalised

    def __hash__(self) -> int:
        return hash(frozenset(self._normalised.items()))

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "upstream_partition_keys_by_downstream_partition_key": {
                down: sorted(ups) for down, ups in sorted(self._normalised.items())
            },
        }

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        subset = _require_partitioned(downstream_subset, self)
        keys: set[str] = set()
        for key in subset:
            keys |= self._normalised.get(key, frozenset())
        return upstream_partitions_def.subset_with_partition_keys(keys)

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        keys = [
            down for down, ups in self._normalised.items() if any(u in upstream_subset for u in ups)
        ]
        return downstream_partitions_def.subset_with_partition_keys(keys)


@dataclass(frozen=True)
class DimensionPartitionMapping:
    """Within a :class:`MultiPartitionMapping`: the downstream dimension an upstream
    dimension maps from, and how."""

    dimension_name: str
    partition_mapping: PartitionMapping


def _default_dimension_mapping(
    upstream_def: PartitionsDefinition, downstream_def: PartitionsDefinition
) -> PartitionMapping:
    if upstream_def == downstream_def:
        return IdentityPartitionMapping()
    if isinstance(upstream_def, TimeWindowPartitionsDefinition) and isinstance(
        downstream_def, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    return IdentityPartitionMapping()


@dataclass(frozen=True)
class MultiPartitionMapping(PartitionMapping):
    """Per-dimension mappings between two multi-partitioned assets.

    Keyed by *upstream* dimension name. An upstream dimension left out maps from the
    downstream dimension of the same name (identity, or time-window overlap for two
    time dimensions); with no such dimension, every downstream partition reads all of it.
    """

    downstream_mappings_by_upstream_dimension: Mapping[str, DimensionPartitionMapping] = field(
        default_factory=dict
    )

    def __hash__(self) -> int:
        return hash(frozenset(self.downstream_mappings_by_upstream_dimension.items()))

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "downstream_mappings_by_upstream_dimension": {
                name: {
                    "dimension_name": rule.dimension_name,
                    "partition_mapping": rule.partition_mapping.to_snapshot(),
                }
                for name, rule in sorted(self.downstream_mappings_by_upstream_dimension.items())
            },
        }

    def _resolve(
        self, up: MultiPartitionsDefinition, down: MultiPartitionsDefinition
    ) -> dict[str, DimensionPartitionMapping | None]:
        """Upstream dimension -> mapping from a downstream dimension (None: reads all)."""
        down_names = {d.name for d in down.partitions_dimensions}
        resolved: dict[str, DimensionPartitionMapping | None] = {}
        for dim in up.partitions_dimensions:
            explicit = self.downstream_mappings_by_upstream_dimension.get(dim.name)
            if explicit is not None:
                if explicit.dimension_name not in down_names:
                    raise PartitionsDefinitionMismatch(
                        f"upstream dimension {dim.name!r} maps from downstream dimension "
                        f"{explicit.dimension_name!r}, which does not exist; "
                        f"downstream dimensions are {sorted(down_names)}"
                    )
                resolved[dim.name] = explicit
            elif dim.name in down_names:
                mapping = _default_dimension_mapping(
                    dim.partitions_def, down.dimension(dim.name).partitions_def
                )
                resolved[dim.name] = DimensionPartitionMapping(dim.name, mapping)
            else:
                resolved[dim.name] = None
        return resolved

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        subset = _require_partitioned(downstream_subset, self)
        down, up = subset.partitions_def, upstream_partitions_def
        if not isinstance(down, MultiPartitionsDefinition) or not isinstance(
            up, MultiPartitionsDefinition
        ):
            raise PartitionsDefinitionMismatch(
                "MultiPartitionMapping maps multi partitions to multi partitions"
            )
        assert isinstance(subset, MultiPartitionsSubset)
        resolved = self._resolve(up, down)
        result: PartitionsSubset = up.empty_subset()
        primary_def = down.primary_dimension.partitions_def
        for primary_key, secondary in subset.by_primary.items():
            parts = {
                down.primary_dimension.name: primary_def.subset_with_partition_keys([primary_key]),
                down.secondary_dimension.name: secondary,
            }
            mapped = {}
            for dim in (up.primary_dimension, up.secondary_dimension):
                rule = resolved[dim.name]
                if rule is None:
                    mapped[dim.name] = dim.partitions_def.subset_with_all_partitions(
                        current_time, dynamic_partitions_store
                    )
                else:
                    mapped[dim.name] = rule.partition_mapping.upstream_partitions_for(
                        parts[rule.dimension_name],
                        dim.partitions_def,
                        current_time=current_time,
                        dynamic_partitions_store=dynamic_partitions_store,
                    )
            result = result | up.subset_from_product(
                mapped[up.primary_dimension.name], mapped[up.secondary_dimension.name]
            )
        return result

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        up, down = upstream_subset.partitions_def, downstream_partitions_def
        if not isinstance(down, MultiPartitionsDefinition) or not isinstance(
            up, MultiPartitionsDefinition
        ):
            raise PartitionsDefinitionMismatch(
                "MultiPartitionMapping maps multi partitions to multi partitions"
            )
        assert isinstance(upstream_subset, MultiPartitionsSubset)
        resolved = self._resolve(up, down)
        sources = {
            rule.dimension_name: (name, rule.partition_mapping)
            for name, rule in resolved.items()
            if rule is not None
        }
        result: PartitionsSubset = down.empty_subset()
        primary_def = up.primary_dimension.partitions_def
        for primary_key, secondary in upstream_subset.by_primary.items():
            parts = {
                up.primary_dimension.name: primary_def.subset_with_partition_keys([primary_key]),
                up.secondary_dimension.name: secondary,
            }
            mapped = {}
            for dim in (down.primary_dimension, down.secondary_dimension):
                if dim.name not in sources:
                    mapped[dim.name] = dim.partitions_def.subset_with_all_partitions(
                        current_time, dynamic_partitions_store
                    )
                    continue
                up_name, mapping = sources[dim.name]
                mapped[dim.name] = mapping.downstream_partitions_for(
                    parts[up_name],
                    dim.partitions_def,
                    current_time=current_time,
                    dynamic_partitions_store=dynamic_partitions_store,
                )
            result = result | down.subset_from_product(
                mapped[down.primary_dimension.name], mapped[down.secondary_dimension.name]
            )
        return result


@dataclass(frozen=True)
class MultiToSingleDimensionPartitionMapping(PartitionMapping):
    """Between a multi-partitioned asset and a single-partitioned one, through one dimension.

    A daily asset reading a date x region asset reads every region of its day; in the
    other direction each (day, region) partition reads that day.
    ``partition_dimension_name`` may be omitted when exactly one dimension matches.
    """

    partition_dimension_name: str | None = None

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "partition_dimension_name": self.partition_dimension_name,
        }

    def _dimension(self, multi: MultiPartitionsDefinition, single: PartitionsDefinition) -> str:
        if self.partition_dimension_name is not None:
            multi.dimension(self.partition_dimension_name)
            return self.partition_dimension_name
        matches = [d.name for d in multi.partitions_dimensions if d.partitions_def == single]
        if len(matches) != 1:
            raise PartitionsDefinitionMismatch(
                f"cannot tell which dimension of {multi.describe()} matches {single.describe()}: "
                "pass partition_dimension_name="
            )
        return matches[0]

    @staticmethod
    def _project(subset: MultiPartitionsSubset, name: str) -> PartitionsSubset:
        """The keys of dimension ``name`` that appear in ``subset``."""
        multi = subset.partitions_def
        assert isinstance(multi, MultiPartitionsDefinition)
        if name == multi.primary_dimension.name:
            return multi.primary_dimension.partitions_def.subset_with_partition_keys(
                subset.by_primary
            )
        result = multi.secondary_dimension.partitions_def.empty_subset()
        for secondary in subset.by_primary.values():
            result = result | secondary
        return result

    def _expand(
        self,
        single_subset: PartitionsSubset,
        multi: MultiPartitionsDefinition,
        name: str,
        current_time: datetime | None,
        store: DynamicPartitionsStore | None,
    ) -> PartitionsSubset:
        """Every key of ``multi`` whose dimension ``name`` is in ``single_subset``."""
        dim = multi.dimension(name)
        own = IdentityPartitionMapping().downstream_partitions_for(
            single_subset,
            dim.partitions_def,
            current_time=current_time,
            dynamic_partitions_store=store,
        )
        other = next(d for d in multi.partitions_dimensions if d.name != name)
        everything = other.partitions_def.subset_with_all_partitions(current_time, store)
        if name == multi.primary_dimension.name:
            return multi.subset_from_product(own, everything)
        return multi.subset_from_product(everything, own)

    def _map(
        self,
        subset: PartitionsSubset,
        target: PartitionsDefinition,
        current_time: datetime | None,
        store: DynamicPartitionsStore | None,
    ) -> PartitionsSubset:
        source = subset.partitions_def
        if isinstance(source, MultiPartitionsDefinition) and not isinstance(
            target, MultiPartitionsDefinition
        ):
            assert isinstance(subset, MultiPartitionsSubset)
            projected = self._project(subset, self._dimension(source, target))
            return IdentityPartitionMapping().downstream_partitions_for(
                projected, target, current_time=current_time, dynamic_partitions_store=store
            )
        if isinstance(target, MultiPartitionsDefinition) and not isinstance(
            source, MultiPartitionsDefinition
        ):
            return self._expand(
                subset, target, self._dimension(target, source), current_time, store
            )
        raise PartitionsDefinitionMismatch(
            "MultiToSingleDimensionPartitionMapping maps between a multi and a single definition, "
            f"got {source.describe()} and {target.describe()}"
        )

    def upstream_partitions_for(
        self,
        downstream_subset: PartitionsSubset | None,
        upstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        subset = _require_partitioned(downstream_subset, self)
        return self._map(subset, upstream_partitions_def, current_time, dynamic_partitions_store)

    def downstream_partitions_for(
        self,
        upstream_subset: PartitionsSubset,
        downstream_partitions_def: PartitionsDefinition,
        *,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> PartitionsSubset:
        return self._map(
            upstream_subset, downstream_partitions_def, current_time, dynamic_partitions_store
        )


def infer_partition_mapping(
    upstream_partitions_def: PartitionsDefinition | None,
    downstream_partitions_def: PartitionsDefinition | None,
) -> PartitionMapping:
    """The mapping used when a dependency declares none.

    Identity for equal definitions; all upstream partitions when either side is
    unpartitioned; window overlap between two time-window definitions (e.g. daily
    into monthly); through the shared dimension between multi and single definitions.
    """
    up, down = upstream_partitions_def, downstream_partitions_def
    if up is None or down is None:
        return AllPartitionMapping()
    if up == down:
        return IdentityPartitionMapping()
    if isinstance(up, TimeWindowPartitionsDefinition) and isinstance(
        down, TimeWindowPartitionsDefinition
    ):
        return TimeWindowPartitionMapping()
    if isinstance(up, MultiPartitionsDefinition) and isinstance(down, MultiPartitionsDefinition):
        return MultiPartitionMapping()
    if isinstance(up, MultiPartitionsDefinition) or isinstance(down, MultiPartitionsDefinition):
        multi, single = (up, down) if isinstance(up, MultiPartitionsDefinition) else (down, up)
        assert isinstance(multi, MultiPartitionsDefinition)
        if any(d.partitions_def == single for d in multi.partitions_dimensions):
            return MultiToSingleDimensionPartitionMapping()
        if isinstance(single, TimeWindowPartitionsDefinition) and multi.time_window_dimension:
            return MultiToSingleDimensionPartitionMapping(multi.time_window_dimension.name)
        return AllPartitionMapping()
    return IdentityPartitionMapping()
