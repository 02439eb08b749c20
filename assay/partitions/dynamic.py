"""Dynamic partitions: keys added and removed at run time (e.g. by a sensor), kept in a store."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from assay.partitions.base import DynamicPartitionsStore, PartitionsDefinition
from assay.partitions.errors import InvalidPartitionsDefinition, PartitionsError
from assay.partitions.static import validate_partition_key
from assay.partitions.subset import KeysPartitionsSubset

__all__ = ["DynamicPartitionsDefinition", "InMemoryDynamicPartitionsStore"]


class InMemoryDynamicPartitionsStore:
    """A :class:`DynamicPartitionsStore` in a dict: for tests and ``materialize()``."""

    def __init__(self, partitions: dict[str, Sequence[str]] | None = None) -> None:
        self._keys: dict[str, dict[str, None]] = {}
        for name, keys in (partitions or {}).items():
            self.add_dynamic_partitions(name, keys)

    def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
        return list(self._keys.get(partitions_def_name, {}))

    def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
        return partition_key in self._keys.get(partitions_def_name, {})

    def add_dynamic_partitions(
        self, partitions_def_name: str, partition_keys: Iterable[str]
    ) -> None:
        """Register keys (idempotent: adding an existing key changes nothing). Every key is
        checked before any is added, so a bad key adds nothing."""
        where = f"dynamic partitions {partitions_def_name!r}"
        checked = [validate_partition_key(key, where=where) for key in partition_keys]
        self._keys.setdefault(partitions_def_name, {}).update(dict.fromkeys(checked))

    def delete_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> None:
        """Unregister a key; deleting a missing key changes nothing (as on the control plane)."""
        self._keys.get(partitions_def_name, {}).pop(partition_key, None)


class DynamicPartitionsDefinition(PartitionsDefinition):
    """Partitions whose keys live in a :class:`DynamicPartitionsStore` under ``name``."""

    def __init__(self, name: str) -> None:
        if not isinstance(name, str) or not name.strip():
            raise InvalidPartitionsDefinition(
                f"a dynamic partitions definition needs a name, got {name!r}"
            )
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DynamicPartitionsDefinition) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("dynamic", self.name))

    def to_snapshot(self) -> dict[str, Any]:
        return {"type": "dynamic", "name": self.name}

    def describe(self) -> str:
        return f"dynamic partitions {self.name!r}"

    def _require_store(self, store: DynamicPartitionsStore | None) -> DynamicPartitionsStore:
        if store is None:
            raise PartitionsError(
                f"the keys of {self.describe()} live in a store: pass dynamic_partitions_store="
            )
        return store

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return list(self._require_store(dynamic_partitions_store).get_dynamic_partitions(self.name))

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        store = self._require_store(dynamic_partitions_store)
        return store.has_dynamic_partition(self.name, partition_key)

    def empty_subset(self) -> KeysPartitionsSubset:
        return KeysPartitionsSubset(self)

    def subset_with_partition_keys(self, partition_keys: Iterable[str]) -> KeysPartitionsSubset:
        """A subset of ``partition_keys``; keys are checked for shape, not against a store."""
        keys = [validate_partition_key(k, where=self.describe()) for k in partition_keys]
        return KeysPartitionsSubset(self, keys)

    def subset_from_serializable(self, data: Any) -> KeysPartitionsSubset:
        if not isinstance(data, dict) or data.get("type") != "keys":
            raise InvalidPartitionsDefinition(f"not a serialized key subset: {data!r}")
        return self.subset_with_partition_keys(data["keys"])
