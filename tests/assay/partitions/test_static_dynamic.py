"""Static and dynamic partitions."""

from __future__ import annotations

import re

import pytest

from assay.partitions import (
    DynamicPartitionsDefinition,
    DynamicPartitionsStore,
    InMemoryDynamicPartitionsStore,
    InvalidPartitionsDefinition,
    PartitionsError,
    StaticPartitionsDefinition,
)


def test_static_keys_keep_their_order():
    regions = StaticPartitionsDefinition(["us", "eu", "apac"])
    assert regions.get_partition_keys() == ["us", "eu", "apac"]
    assert regions.has_partition_key("eu")
    assert not regions.has_partition_key("mars")
    assert regions.get_num_partitions() == 3
    assert regions.get_last_partition_key() == "apac"
    assert regions == StaticPartitionsDefinition(["us", "eu", "apac"])
    assert regions != StaticPartitionsDefinition(["eu", "us", "apac"])


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (["eu", "eu"], "duplicate static partition keys: \\['eu'\\]"),
        (["a|b"], "contains '\\|'"),
        ([""], "non-empty strings"),
        ([3], "non-empty strings"),
        ("eu,us", "takes a list of keys"),
    ],
)
def test_bad_static_keys_are_rejected(keys, message):
    with pytest.raises(InvalidPartitionsDefinition, match=message):
        StaticPartitionsDefinition(keys)


def test_dynamic_keys_come_from_the_store():
    customers = DynamicPartitionsDefinition(name="customers")
    store = InMemoryDynamicPartitionsStore()
    assert isinstance(store, DynamicPartitionsStore)
    assert customers.get_partition_keys(dynamic_partitions_store=store) == []
    store.add_dynamic_partitions("customers", ["acme", "globex"])
    store.add_dynamic_partitions("customers", ["acme", "initech"])  # idempotent
    store.add_dynamic_partitions("vendors", ["x"])
    assert customers.get_partition_keys(dynamic_partitions_store=store) == [
        "acme",
        "globex",
        "initech",
    ]
    assert customers.has_partition_key("globex", dynamic_partitions_store=store)
    store.delete_dynamic_partition("customers", "globex")
    assert not customers.has_partition_key("globex", dynamic_partitions_store=store)
    assert customers.get_num_partitions(dynamic_partitions_store=store) == 2


def test_dynamic_partitions_need_a_store():
    customers = DynamicPartitionsDefinition(name="customers")
    with pytest.raises(PartitionsError, match="pass dynamic_partitions_store="):
        customers.get_partition_keys()


def test_deleting_a_missing_dynamic_key_changes_nothing():
    store = InMemoryDynamicPartitionsStore({"customers": ["acme"]})
    # The rule of DynamicPartitionsChange.delete_keys on the control plane: a no-op.
    store.delete_dynamic_partition("customers", "nobody")
    store.delete_dynamic_partition("suppliers", "acme")
    assert store.get_dynamic_partitions("customers") == ["acme"]
    assert store.get_dynamic_partitions("suppliers") == []


def test_a_bad_dynamic_key_adds_nothing_to_the_in_memory_store():
    store = InMemoryDynamicPartitionsStore({"customers": ["acme"]})
    with pytest.raises(PartitionsError, match=re.escape("'a|b'")):
        store.add_dynamic_partitions("customers", ["globex", "a|b"])
    assert store.get_dynamic_partitions("customers") == ["acme"]


def test_dynamic_definitions_are_equal_by_name():
    assert DynamicPartitionsDefinition("a") == DynamicPartitionsDefinition(name="a")
    assert DynamicPartitionsDefinition("a") != DynamicPartitionsDefinition("b")
    with pytest.raises(InvalidPartitionsDefinition, match="needs a name"):
        DynamicPartitionsDefinition("")


def test_a_custom_store_satisfies_the_protocol():
    class Catalog:
        def get_dynamic_partitions(self, partitions_def_name: str) -> list[str]:
            return ["f1.csv", "f2.csv"]

        def has_dynamic_partition(self, partitions_def_name: str, partition_key: str) -> bool:
            return partition_key in self.get_dynamic_partitions(partitions_def_name)

    files = DynamicPartitionsDefinition(name="files")
    assert files.get_partition_keys(dynamic_partitions_store=Catalog()) == ["f1.csv", "f2.csv"]
