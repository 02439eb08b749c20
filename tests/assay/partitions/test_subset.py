"""Partition subsets: set algebra against a naive set model, compactness, serialisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.partitions import (
    DailyPartitionsDefinition,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    PartitionKeyRange,
    PartitionsDefinitionMismatch,
    StaticPartitionsDefinition,
    TimeWindowPartitionsSubset,
    UnknownPartitionKey,
    subset_from_serializable,
)

# 3,000 daily partitions: from 2016-01-01 to mid-March 2024.
DAILY = DailyPartitionsDefinition(start_date="2016-01-01", end_date="2024-03-19")
N = DAILY.get_num_partitions(current_time=datetime(2030, 1, 1, tzinfo=UTC))

index_ranges = st.lists(
    st.tuples(st.integers(0, N), st.integers(0, 60)).map(lambda t: (t[0], min(N, t[0] + t[1]))),
    max_size=8,
)


def model(ranges: list[tuple[int, int]]) -> set[int]:
    return {i for start, end in ranges for i in range(start, end)}


def indices(subset: TimeWindowPartitionsSubset) -> set[int]:
    return {DAILY.get_index_for_partition_key(k) for k in subset}


def test_the_definition_has_a_few_thousand_keys():
    assert N == 3000


@settings(max_examples=150, deadline=None)
@given(index_ranges, index_ranges)
def test_time_window_subset_algebra_matches_a_set_model(left, right):
    a = DAILY.subset_with_index_ranges(left)
    b = DAILY.subset_with_index_ranges(right)
    ma, mb = model(left), model(right)
    assert indices(a | b) == ma | mb
    assert indices(a & b) == ma & mb
    assert indices(a - b) == ma - mb
    assert len(a | b) == len(ma | mb)
    assert len(a - b) == len(ma - mb)
    for probe in (0, N - 1, *list(ma)[:5], *list(mb)[:5]):
        key = DAILY.get_partition_key_for_index(probe)
        assert (key in a) == (probe in ma)
        assert (key in (a - b)) == (probe in ma - mb)


@settings(max_examples=100, deadline=None)
@given(index_ranges)
def test_time_window_subset_round_trips_through_json(ranges):
    subset = DAILY.subset_with_index_ranges(ranges)
    data = json.loads(json.dumps(subset.to_serializable()))
    assert subset_from_serializable(data, DAILY) == subset


@settings(max_examples=100, deadline=None)
@given(st.sets(st.integers(0, N - 1), max_size=50))
def test_subset_from_keys_matches_the_keys(chosen):
    keys = [DAILY.get_partition_key_for_index(i) for i in chosen]
    subset = DAILY.subset_with_partition_keys(keys)
    assert set(subset) == set(keys)
    assert len(subset) == len(chosen)
    assert list(subset) == sorted(keys)  # iteration is in time order


@settings(max_examples=100, deadline=None)
@given(
    st.sets(st.sampled_from("abcdefghij"), max_size=10),
    st.sets(st.sampled_from("abcdefghij"), max_size=10),
)
def test_static_subset_algebra_matches_a_set_model(left, right):
    static = StaticPartitionsDefinition(list("abcdefghij"))
    a, b = static.subset_with_partition_keys(left), static.subset_with_partition_keys(right)
    assert set(a | b) == left | right
    assert set(a & b) == left & right
    assert set(a - b) == left - right
    assert len(a | b) == len(left | right)
    assert all((k in a) == (k in left) for k in "abcdefghij")


def test_hundred_thousand_hourly_partitions_with_holes_serialise_to_a_few_kilobytes():
    hourly = HourlyPartitionsDefinition(start_date="2010-01-01-00:00")
    everything = hourly.subset_with_index_ranges([(0, 100_000)])
    holes = hourly.subset_with_index_ranges([(i, i + 3) for i in range(500, 100_000, 5_000)])
    subset = everything - holes
    assert len(subset) == 100_000 - 20 * 3
    size = len(json.dumps(subset.to_serializable()))
    assert size < 4_096, size
    assert len(subset.ranges) == 21  # ranges, not one object per key
    assert subset_from_serializable(json.loads(json.dumps(subset.to_serializable())), hourly) == (
        subset
    )


def test_all_partitions_is_one_range():
    subset = DAILY.subset_with_all_partitions(current_time=datetime(2030, 1, 1, tzinfo=UTC))
    assert subset.ranges == ((0, N),)
    assert subset.get_partition_key_ranges() == [PartitionKeyRange("2016-01-01", "2024-03-18")]


def test_key_range_subset_and_time_windows():
    subset = DAILY.subset_with_key_range(PartitionKeyRange("2024-01-01", "2024-01-31"))
    assert len(subset) == 31
    (window,) = subset.get_time_windows()
    assert window.start == datetime(2024, 1, 1, tzinfo=UTC)
    assert window.end == datetime(2024, 2, 1, tzinfo=UTC)


def test_subsets_of_different_definitions_do_not_combine():
    other = DailyPartitionsDefinition(start_date="2020-01-01")
    with pytest.raises(PartitionsDefinitionMismatch, match="different partitions definitions"):
        DAILY.empty_subset() | other.empty_subset()


def test_unknown_keys_are_rejected_when_building_a_subset():
    with pytest.raises(UnknownPartitionKey, match="'2015-12-31'"):
        DAILY.subset_with_partition_keys(["2024-01-01", "2015-12-31"])
    static = StaticPartitionsDefinition(["eu", "us"])
    with pytest.raises(UnknownPartitionKey, match="valid keys are \\['eu', 'us'\\]"):
        static.subset_with_partition_keys(["apac"])


def test_contains_rejects_foreign_values():
    subset = DAILY.subset_with_all_partitions(current_time=datetime(2030, 1, 1, tzinfo=UTC))
    assert "2024-01-01" in subset
    assert "not-a-date" not in subset
    assert 3 not in subset


def test_keys_subset_serialises_sorted_and_iterates_in_definition_order():
    static = StaticPartitionsDefinition(["us", "eu", "apac"])
    subset = static.subset_with_partition_keys(["apac", "us"])
    assert list(subset) == ["us", "apac"]
    assert subset.to_serializable() == {"type": "keys", "keys": ["apac", "us"]}
    assert subset_from_serializable(subset.to_serializable(), static) == subset


def test_dynamic_subset_iterates_sorted():
    dynamic = DynamicPartitionsDefinition(name="customers")
    subset = dynamic.subset_with_partition_keys(["zeta", "acme"])
    assert list(subset) == ["acme", "zeta"]
    assert subset_from_serializable(subset.to_serializable(), dynamic) == subset


def test_bool_and_repr():
    assert not DAILY.empty_subset()
    subset = DAILY.subset_with_index_ranges([(0, 10)])
    assert subset
    assert "10 of" in repr(subset)
