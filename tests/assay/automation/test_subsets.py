"""The engine's fast subset algebra agrees with a naive set model and the public operators.

`assay.automation.subsets` short-cuts empty and equal operands and builds time-window
results straight from range arithmetic; these properties keep it honest.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from assay.automation.subsets import (
    ALL_UNPARTITIONED,
    EMPTY_UNPARTITIONED,
    intersect,
    same,
    subtract,
    union,
)
from assay.partitions import StaticPartitionsDefinition

from .helpers import DAILY, T0

N = DAILY.get_num_partitions(T0.replace(year=2026))
ranges = st.lists(
    st.tuples(st.integers(0, N), st.integers(0, 40)).map(lambda t: (t[0], min(N, t[0] + t[1]))),
    max_size=6,
)


def model(index_ranges: list[tuple[int, int]]) -> set[str]:
    return {DAILY.get_partition_key_for_index(i) for s, e in index_ranges for i in range(s, e)}


@settings(max_examples=200, deadline=None)
@given(ranges, ranges)
def test_time_window_fast_paths_match_a_set_model_and_the_public_operators(left, right):
    a, b = DAILY.subset_with_index_ranges(left), DAILY.subset_with_index_ranges(right)
    ma, mb = model(left), model(right)
    for fast, public, expected in [
        (union(a, b), a | b, ma | mb),
        (intersect(a, b), a & b, ma & mb),
        (subtract(a, b), a - b, ma - mb),
    ]:
        assert set(fast) == expected
        assert len(fast) == len(expected)
        assert fast == public
        assert same(fast, public)
    assert same(a, b) == (ma == mb)


@settings(max_examples=100, deadline=None)
@given(st.sets(st.sampled_from("abcdef")), st.sets(st.sampled_from("abcdef")))
def test_key_subsets_take_the_general_path_and_match_a_set_model(left, right):
    static = StaticPartitionsDefinition(list("abcdef"))
    a, b = static.subset_with_partition_keys(left), static.subset_with_partition_keys(right)
    assert set(union(a, b)) == left | right
    assert set(intersect(a, b)) == left & right
    assert set(subtract(a, b)) == left - right
    assert same(a, b) == (left == right)


def test_an_unpartitioned_subset_is_a_one_element_set():
    for x, mx in [(ALL_UNPARTITIONED, {None}), (EMPTY_UNPARTITIONED, set())]:
        for y, my in [(ALL_UNPARTITIONED, {None}), (EMPTY_UNPARTITIONED, set())]:
            assert set(union(x, y)) == mx | my
            assert set(intersect(x, y)) == mx & my
            assert set(subtract(x, y)) == mx - my
            assert same(x, y) == (mx == my)
