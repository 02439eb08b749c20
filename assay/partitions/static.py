"""Static partitions: a fixed, ordered list of keys such as regions or customers."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition, UnknownPartitionKey
from assay.partitions.subset import KeysPartitionsSubset

__all__ = ["StaticPartitionsDefinition"]

_FORBIDDEN_CHARACTERS = ("|", ",", "[", "]", "*", "...", "\n")


def validate_partition_key(key: object, *, where: str) -> str:
    """Reject keys that are not strings or that would be ambiguous in selections."""
    if not isinstance(key, str) or not key:
        raise InvalidPartitionsDefinition(
            f"{where}: partition keys must be non-empty strings, got {key!r}"
        )
    bad = [c for c in _FORBIDDEN_CHARACTERS if c in key]
    if bad:
        raise InvalidPartitionsDefinition(
            f"{where}: partition key {key!r} contains {bad[0]!r}; keys may not contain "
            + ", ".join(repr(c) for c in _FORBIDDEN_CHARACTERS)
        )
    return key


class StaticPartitionsDefinition(PartitionsDefinition):
    """A fixed list of partition keys, in the order given."""

    def __init__(self, partition_keys: Sequence[str]) -> None:
        if isinstance(partition_keys, str):
            raise InvalidPartitionsDefinition(
                "StaticPartitionsDefinition takes a list of keys, "
                f"got the string {partition_keys!r}"
            )
        keys = [
            validate_partition_key(k, where="StaticPartitionsDefinition") for k in partition_keys
        ]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise InvalidPartitionsDefinition(f"duplicate static partition keys: {duplicates}")
        self.partition_keys: tuple[str, ...] = tuple(keys)
        self._positions = {k: i for i, k in enumerate(keys)}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, StaticPartitionsDefinition)
            and other.partition_keys == self.partition_keys
        )

    def __hash__(self) -> int:
        return hash(("static", self.partition_keys))

    def to_snapshot(self) -> dict[str, Any]:
        return {"type": "static", "partition_keys": list(self.partition_keys)}

    def describe(self) -> str:
        shown = list(self.partition_keys[:5]) + (["..."] if len(self.partition_keys) > 5 else [])
        return f"static partitions {shown}"

    def key_order(self, key: str) -> int:
        """Sort key putting partition keys in definition order."""
        return self._positions[key]

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return list(self.partition_keys)

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        return partition_key in self._positions

    def empty_subset(self) -> KeysPartitionsSubset:
        return KeysPartitionsSubset(self)

    def subset_with_partition_keys(self, partition_keys: Iterable[str]) -> KeysPartitionsSubset:
        keys = frozenset(partition_keys)
        unknown = sorted(k for k in keys if k not in self._positions)
        if unknown:
            raise UnknownPartitionKey(
                unknown[0], self.describe(), hint=f"valid keys are {list(self.partition_keys)}"
            )
        return KeysPartitionsSubset(self, keys)

    def subset_from_serializable(self, data: Any) -> KeysPartitionsSubset:
        if not isinstance(data, dict) or data.get("type") != "keys":
            raise InvalidPartitionsDefinition(f"not a serialized key subset: {data!r}")
        return self.subset_with_partition_keys(data["keys"])
