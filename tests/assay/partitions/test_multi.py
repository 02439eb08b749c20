"""Multi-dimensional partitions (date x region)."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.partitions import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    InMemoryDynamicPartitionsStore,
    InvalidPartitionsDefinition,
    MultiPartitionKey,
    MultiPartitionsDefinition,
    MultiPartitionsSubset,
    StaticPartitionsDefinition,
    UnknownPartitionKey,
    subset_from_serializable,
)

NOW = datetime(2024, 1, 4, tzinfo=UTC)
DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
REGIONS = StaticPartitionsDefinition(["eu", "us"])
MULTI = MultiPartitionsDefinition({"region": REGIONS, "date": DAILY})


def test_keys_join_dimensions_in_name_order():
    keys = MULTI.get_partition_keys(current_time=NOW)
    assert keys == [
        "2024-01-01|eu",
        "2024-01-01|us",
        "2024-01-02|eu",
        "2024-01-02|us",
        "2024-01-03|eu",
        "2024-01-03|us",
    ]
    assert keys[0].keys_by_dimension == {"date": "2024-01-01", "region": "eu"}
    assert MULTI.get_num_partitions(current_time=NOW) == 6


def test_multi_partition_key_is_a_string_with_its_parts():
    key = MultiPartitionKey({"region": "eu", "date": "2024-01-15"})
    assert key == "2024-01-15|eu"
    assert key.keys_by_dimension == {"date": "2024-01-15", "region": "eu"}
    assert pickle.loads(pickle.dumps(key)).keys_by_dimension == key.keys_by_dimension
    assert MULTI.has_partition_key(key, current_time=datetime(2024, 2, 1, tzinfo=UTC))
    assert MULTI.has_partition_key("2024-01-02|us", current_time=NOW)
    assert not MULTI.has_partition_key("2024-01-02|apac", current_time=NOW)
    assert not MULTI.has_partition_key("2024-01-02", current_time=NOW)


def test_subset_is_stored_per_region_as_time_ranges():
    subset = MULTI.subset_with_partition_keys(
        ["2024-01-01|eu", "2024-01-02|eu", "2024-01-03|eu", "2024-01-02|us"]
    )
    assert isinstance(subset, MultiPartitionsSubset)
    assert set(subset.by_primary) == {"eu", "us"}
    assert subset.by_primary["eu"].ranges == ((0, 3),)
    assert len(subset) == 4
    assert "2024-01-02|us" in subset
    assert "2024-01-01|us" not in subset
    assert next(iter(subset)).keys_by_dimension == {"date": "2024-01-01", "region": "eu"}
    data = json.loads(json.dumps(subset.to_serializable()))
    assert subset_from_serializable(data, MULTI) == subset


def test_all_partitions_for_a_year_by_region_is_tiny():
    subset = MULTI.subset_with_all_partitions(current_time=datetime(2025, 1, 1, tzinfo=UTC))
    assert len(subset) == 366 * 2
    assert len(json.dumps(subset.to_serializable())) < 300


KEYS = [f"2024-01-0{d}|{r}" for d in range(1, 4) for r in ("eu", "us")]


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from(KEYS)), st.sets(st.sampled_from(KEYS)))
def test_multi_subset_algebra_matches_a_set_model(left, right):
    a = MULTI.subset_with_partition_keys(left)
    b = MULTI.subset_with_partition_keys(right)
    assert set(a | b) == left | right
    assert set(a & b) == left & right
    assert set(a - b) == left - right
    assert len(a - b) == len(left - right)
    assert all((k in a) == (k in left) for k in KEYS)


def test_static_by_dynamic_without_time():
    multi = MultiPartitionsDefinition(
        {"region": REGIONS, "customer": DynamicPartitionsDefinition("customers")}
    )
    store = InMemoryDynamicPartitionsStore({"customers": ["acme", "globex"]})
    assert multi.get_partition_keys(dynamic_partitions_store=store) == [
        "acme|eu",
        "acme|us",
        "globex|eu",
        "globex|us",
    ]
    subset = multi.subset_with_all_partitions(dynamic_partitions_store=store)
    assert len(subset) == 4


def test_bad_multi_definitions_are_rejected():
    with pytest.raises(InvalidPartitionsDefinition, match="exactly two dimensions"):
        MultiPartitionsDefinition({"date": DAILY})
    with pytest.raises(InvalidPartitionsDefinition, match="at most one dimension"):
        MultiPartitionsDefinition({"a": DAILY, "b": DailyPartitionsDefinition("2023-01-01")})
    with pytest.raises(InvalidPartitionsDefinition, match="invalid dimension name"):
        MultiPartitionsDefinition({"a|b": DAILY, "c": REGIONS})


def test_bad_multi_keys_are_rejected():
    with pytest.raises(UnknownPartitionKey, match="one part per dimension"):
        MULTI.subset_with_partition_keys(["2024-01-01"])
    with pytest.raises(UnknownPartitionKey):
        MULTI.subset_with_partition_keys(["2024-01-01|apac"])
    with pytest.raises(UnknownPartitionKey):
        MULTI.subset_with_partition_keys(["1999-01-01|eu"])
