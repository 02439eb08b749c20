"""Multi-dimensional partitions: the product of two definitions, e.g. date x region.

Dimensions are ordered by name, and a key's string form joins the per-dimension keys
in that order with ``|``: ``{"date": daily, "region": static}`` has keys such as
``"2024-01-15|eu"``. At most one dimension may be time-based.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition, UnknownPartitionKey
from assay.partitions.subset import MultiPartitionsSubset, PartitionsSubset
from assay.partitions.time_window import TimeWindow, TimeWindowPartitionsDefinition

__all__ = ["MultiPartitionKey", "MultiPartitionsDefinition", "PartitionDimensionDefinition"]

SEPARATOR = "|"


class MultiPartitionKey(str):
    """A key of a multi-partitioned asset: a string like ``"2024-01-15|eu"``.

    It is a ``str`` so it works wherever a key does; ``keys_by_dimension`` gives the parts.
    """

    keys_by_dimension: dict[str, str]

    def __new__(cls, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        names = sorted(keys_by_dimension)
        key = super().__new__(cls, SEPARATOR.join(keys_by_dimension[n] for n in names))
        key.keys_by_dimension = {n: keys_by_dimension[n] for n in names}
        return key

    def __reduce__(self) -> tuple[Any, ...]:
        return (MultiPartitionKey, (self.keys_by_dimension,))


@dataclass(frozen=True)
class PartitionDimensionDefinition:
    """One named dimension of a :class:`MultiPartitionsDefinition`."""

    name: str
    partitions_def: PartitionsDefinition

    def order_keys(self, keys: Iterable[str]) -> list[str]:
        """``keys`` in this dimension's order."""
        pd = self.partitions_def
        if isinstance(pd, TimeWindowPartitionsDefinition):
            return sorted(keys, key=pd.get_index_for_partition_key)
        order = getattr(pd, "key_order", None)
        return sorted(keys, key=order) if order is not None else sorted(keys)


class MultiPartitionsDefinition(PartitionsDefinition):
    """The product of two partitions definitions, keyed by dimension name."""

    def __init__(self, partitions_defs: Mapping[str, PartitionsDefinition]) -> None:
        if len(partitions_defs) != 2:
            raise InvalidPartitionsDefinition(
                "a multi partitions definition has exactly two dimensions, "
                f"got {sorted(partitions_defs)}"
            )
        for name, pd in partitions_defs.items():
            if not isinstance(name, str) or not name or SEPARATOR in name:
                raise InvalidPartitionsDefinition(f"invalid dimension name {name!r}")
            if not isinstance(pd, PartitionsDefinition) or isinstance(
                pd, MultiPartitionsDefinition
            ):
                raise InvalidPartitionsDefinition(
                    f"dimension {name!r} must be a single-dimension partitions definition, "
                    f"got {pd!r}"
                )
        self.partitions_dimensions = tuple(
            PartitionDimensionDefinition(name, partitions_defs[name])
            for name in sorted(partitions_defs)
        )
        time_dims = [
            d
            for d in self.partitions_dimensions
            if isinstance(d.partitions_def, TimeWindowPartitionsDefinition)
        ]
        if len(time_dims) > 1:
            raise InvalidPartitionsDefinition(
                "at most one dimension may be time-window partitioned"
            )
        # Subsets store {primary key: subset of the secondary dimension}; the secondary
        # is the time dimension when there is one, so its ranges stay compact.
        if time_dims:
            self.secondary_dimension = time_dims[0]
            self.primary_dimension = next(
                d for d in self.partitions_dimensions if d is not time_dims[0]
            )
        else:
            self.primary_dimension, self.secondary_dimension = self.partitions_dimensions
        self._primary_first = self.partitions_dimensions[0] is self.primary_dimension

    # -- identity --

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, MultiPartitionsDefinition)
            and other.partitions_dimensions == self.partitions_dimensions
        )

    def __hash__(self) -> int:
        return hash(tuple((d.name, d.partitions_def) for d in self.partitions_dimensions))

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": "multi",
            "dimensions": {
                d.name: d.partitions_def.to_snapshot() for d in self.partitions_dimensions
            },
        }

    def describe(self) -> str:
        dims = ", ".join(
            f"{d.name}: {d.partitions_def.describe()}" for d in self.partitions_dimensions
        )
        return f"multi partitions ({dims})"

    @property
    def time_window_dimension(self) -> PartitionDimensionDefinition | None:
        """The time-based dimension, if any."""
        sd = self.secondary_dimension
        return sd if isinstance(sd.partitions_def, TimeWindowPartitionsDefinition) else None

    def dimension(self, name: str) -> PartitionDimensionDefinition:
        """The dimension called ``name``."""
        for d in self.partitions_dimensions:
            if d.name == name:
                return d
        raise InvalidPartitionsDefinition(
            f"no dimension {name!r}; dimensions are {[d.name for d in self.partitions_dimensions]}"
        )

    # -- keys --

    def key_from_primary_and_secondary(self, primary: str, secondary: str) -> MultiPartitionKey:
        return MultiPartitionKey(
            {self.primary_dimension.name: primary, self.secondary_dimension.name: secondary}
        )

    def split_key_or_none(self, partition_key: str) -> tuple[str, str] | None:
        """``(primary key, secondary key)`` of ``partition_key``, or None if malformed."""
        by_dim = getattr(partition_key, "keys_by_dimension", None)
        if by_dim is None:
            parts = partition_key.split(SEPARATOR)
            if len(parts) != 2:
                return None
            by_dim = dict(zip((d.name for d in self.partitions_dimensions), parts, strict=True))
        try:
            return by_dim[self.primary_dimension.name], by_dim[self.secondary_dimension.name]
        except KeyError:
            return None

    def get_partition_key(self, keys_by_dimension: Mapping[str, str]) -> MultiPartitionKey:
        """Build (and check) a key from its per-dimension parts."""
        key = MultiPartitionKey(keys_by_dimension)
        if set(keys_by_dimension) != {d.name for d in self.partitions_dimensions}:
            raise UnknownPartitionKey(
                key,
                self.describe(),
                hint=f"give one key per dimension {[d.name for d in self.partitions_dimensions]}",
            )
        return key

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[MultiPartitionKey]:  # type: ignore[override]
        first, second = (
            d.partitions_def.get_partition_keys(current_time, dynamic_partitions_store)
            for d in self.partitions_dimensions
        )
        names = [d.name for d in self.partitions_dimensions]
        return [
            MultiPartitionKey(dict(zip(names, pair, strict=True)))
            for pair in itertools.product(first, second)
        ]

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        first, second = (
            d.partitions_def.get_num_partitions(current_time, dynamic_partitions_store)
            for d in self.partitions_dimensions
        )
        return first * second

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        split = self.split_key_or_none(partition_key)
        if split is None:
            return False
        primary, secondary = split
        return self.primary_dimension.partitions_def.has_partition_key(
            primary, current_time, dynamic_partitions_store
        ) and self.secondary_dimension.partitions_def.has_partition_key(
            secondary, current_time, dynamic_partitions_store
        )

    def time_window_for_partition_keys(self, partition_keys: Iterable[str]) -> TimeWindow | None:
        """The span of the keys' time dimension ("2024-01-15|eu" covers Jan 15); None when
        no dimension is time-based or there are no keys."""
        dimension = self.time_window_dimension
        if dimension is None:
            return None
        time_keys = []
        for key in partition_keys:
            split = self.split_key_or_none(key)
            if split is None:
                raise UnknownPartitionKey(key, self.describe())
            time_keys.append(split[1])  # the time dimension is the secondary one
        assert isinstance(dimension.partitions_def, TimeWindowPartitionsDefinition)
        return dimension.partitions_def.time_window_for_partition_keys(time_keys)

    # -- subsets --

    def empty_subset(self) -> MultiPartitionsSubset:
        return MultiPartitionsSubset(self)

    def subset_from_product(
        self, primary_subset: PartitionsSubset, secondary_subset: PartitionsSubset
    ) -> MultiPartitionsSubset:
        """Every combination of a primary-dimension subset and a secondary-dimension subset."""
        return MultiPartitionsSubset(self, {key: secondary_subset for key in primary_subset})

    def subset_with_partition_keys(self, partition_keys: Iterable[str]) -> MultiPartitionsSubset:
        grouped: dict[str, list[str]] = {}
        for key in partition_keys:
            split = self.split_key_or_none(key)
            if split is None:
                raise UnknownPartitionKey(
                    key,
                    self.describe(),
                    hint="keys look like 'a|b', one part per dimension in name order "
                    f"{[d.name for d in self.partitions_dimensions]}",
                )
            grouped.setdefault(split[0], []).append(split[1])
        primary_def = self.primary_dimension.partitions_def
        primary_def.subset_with_partition_keys(grouped)  # validates the primary keys
        secondary_def = self.secondary_dimension.partitions_def
        return MultiPartitionsSubset(
            self, {p: secondary_def.subset_with_partition_keys(s) for p, s in grouped.items()}
        )

    def subset_with_all_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> MultiPartitionsSubset:
        return self.subset_from_product(
            self.primary_dimension.partitions_def.subset_with_all_partitions(
                current_time, dynamic_partitions_store
            ),
            self.secondary_dimension.partitions_def.subset_with_all_partitions(
                current_time, dynamic_partitions_store
            ),
        )

    def subset_from_serializable(self, data: Any) -> MultiPartitionsSubset:
        if (
            not isinstance(data, dict)
            or data.get("type") != "multi"
            or data.get("primary") != self.primary_dimension.name
        ):
            raise InvalidPartitionsDefinition(
                f"not a serialized subset of {self.describe()}: {data!r}"
            )
        self.primary_dimension.partitions_def.subset_with_partition_keys(data["subsets"])
        secondary_def = self.secondary_dimension.partitions_def
        return MultiPartitionsSubset(
            self, {k: secondary_def.subset_from_serializable(v) for k, v in data["subsets"].items()}
        )
