"""Partition mappings, in both directions, and the default inference."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.partitions import (
    AllPartitionMapping,
    DailyPartitionsDefinition,
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    HourlyPartitionsDefinition,
    IdentityPartitionMapping,
    InvalidPartitionsDefinition,
    LastPartitionMapping,
    MonthlyPartitionsDefinition,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    MultiToSingleDimensionPartitionMapping,
    PartitionsDefinitionMismatch,
    StaticPartitionMapping,
    StaticPartitionsDefinition,
    TimeWindowPartitionMapping,
    WeeklyPartitionsDefinition,
    infer_partition_mapping,
)

NOW = datetime(2024, 3, 1, tzinfo=UTC)
DAILY = DailyPartitionsDefinition(start_date="2024-01-01")
REGIONS = StaticPartitionsDefinition(["eu", "us"])


def keys(subset) -> list[str]:
    return list(subset)


# --- identity ---------------------------------------------------------------------


def test_identity_maps_a_key_to_itself_both_ways():
    mapping = IdentityPartitionMapping()
    down = DAILY.subset_with_partition_keys(["2024-01-15", "2024-01-16"])
    assert mapping.upstream_partitions_for(down, DAILY) == down
    assert mapping.downstream_partitions_for(down, DAILY) == down


def test_identity_between_different_static_definitions_keeps_shared_keys():
    mapping = IdentityPartitionMapping()
    wider = StaticPartitionsDefinition(["eu", "us", "apac"])
    down = wider.subset_with_partition_keys(["eu", "apac"])
    assert keys(mapping.upstream_partitions_for(down, REGIONS)) == ["eu"]
    assert keys(mapping.downstream_partitions_for(REGIONS.subset_with_all_partitions(), wider)) == [
        "eu",
        "us",
    ]


# --- time windows -----------------------------------------------------------------


def test_previous_day_mapping():
    mapping = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
    down = DAILY.subset_with_partition_keys(["2024-01-15"])
    assert keys(mapping.upstream_partitions_for(down, DAILY)) == ["2024-01-14"]
    up = DAILY.subset_with_partition_keys(["2024-01-14"])
    assert keys(mapping.downstream_partitions_for(up, DAILY)) == ["2024-01-15"]


def test_trailing_week_mapping():
    mapping = TimeWindowPartitionMapping(start_offset=-6)
    down = DAILY.subset_with_partition_keys(["2024-01-15"])
    assert keys(mapping.upstream_partitions_for(down, DAILY)) == [
        f"2024-01-{d:02d}" for d in range(9, 16)
    ]
    up = DAILY.subset_with_partition_keys(["2024-01-10"])
    assert keys(mapping.downstream_partitions_for(up, DAILY)) == [
        f"2024-01-{d:02d}" for d in range(10, 17)
    ]


def test_offsets_before_the_first_partition_are_clipped():
    mapping = TimeWindowPartitionMapping(start_offset=-1, end_offset=-1)
    first = DAILY.subset_with_partition_keys(["2024-01-01"])
    assert keys(mapping.upstream_partitions_for(first, DAILY)) == []


def test_monthly_reads_the_days_of_its_month():
    monthly = MonthlyPartitionsDefinition(start_date="2024-01-01")
    mapping = TimeWindowPartitionMapping()
    feb = monthly.subset_with_partition_keys(["2024-02-01"])
    upstream = mapping.upstream_partitions_for(feb, DAILY)
    assert len(upstream) == 29
    assert keys(upstream)[0] == "2024-02-01" and keys(upstream)[-1] == "2024-02-29"
    one_day = DAILY.subset_with_partition_keys(["2024-02-10"])
    assert keys(mapping.downstream_partitions_for(one_day, monthly)) == ["2024-02-01"]


def test_hourly_downstream_reads_its_day():
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00")
    mapping = TimeWindowPartitionMapping()
    hour = hourly.subset_with_partition_keys(["2024-01-15-13:00"])
    assert keys(mapping.upstream_partitions_for(hour, DAILY)) == ["2024-01-15"]
    day = DAILY.subset_with_partition_keys(["2024-01-15"])
    assert len(mapping.downstream_partitions_for(day, hourly)) == 24


def test_start_offset_after_end_offset_is_rejected():
    with pytest.raises(InvalidPartitionsDefinition, match="start_offset \\(1\\) is after"):
        TimeWindowPartitionMapping(start_offset=1, end_offset=0)


def test_time_window_mapping_needs_time_windows():
    with pytest.raises(PartitionsDefinitionMismatch, match="needs time-window partitions"):
        TimeWindowPartitionMapping().upstream_partitions_for(
            REGIONS.subset_with_all_partitions(), DAILY
        )


SHAPES = {
    "daily": DailyPartitionsDefinition("2024-01-01", end_date="2024-04-01"),
    "daily-late": DailyPartitionsDefinition("2024-01-10", end_date="2024-04-01"),
    "weekly": WeeklyPartitionsDefinition("2024-01-01", end_date="2024-04-01"),
    "monthly": MonthlyPartitionsDefinition("2024-01-01", end_date="2024-04-01"),
    "hourly-berlin": HourlyPartitionsDefinition(
        "2024-03-28-00:00", end_date="2024-04-02-00:00", timezone="Europe/Berlin"
    ),
}
LATER = datetime(2030, 1, 1, tzinfo=UTC)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(sorted(SHAPES)),
    st.sampled_from(sorted(SHAPES)),
    st.integers(-3, 1),
    st.integers(0, 3),
    st.data(),
)
def test_time_window_mapping_directions_agree(up_name, down_name, start_offset, extra, data):
    """Downstream d is affected by upstream U exactly when d's requirement meets U."""
    up, down = SHAPES[up_name], SHAPES[down_name]
    mapping = TimeWindowPartitionMapping(start_offset=start_offset, end_offset=start_offset + extra)
    n_up = up.get_num_partitions(LATER)
    chosen = data.draw(st.sets(st.integers(0, n_up - 1), max_size=4))
    upstream = up.subset_with_partition_keys([up.get_partition_key_for_index(i) for i in chosen])
    affected = set(mapping.downstream_partitions_for(upstream, down))
    expected = {
        key
        for key in down.get_partition_keys(LATER)
        if mapping.upstream_partitions_for(down.subset_with_partition_keys([key]), up) & upstream
    }
    assert affected == expected


# --- all, last, static --------------------------------------------------------------


def test_all_mapping_for_an_unpartitioned_downstream():
    mapping = AllPartitionMapping()
    upstream = mapping.upstream_partitions_for(None, DAILY, current_time=NOW)
    assert len(upstream) == 60
    assert mapping.affects_unpartitioned_downstream(
        DAILY.subset_with_partition_keys(["2024-01-02"])
    )
    assert not mapping.affects_unpartitioned_downstream(DAILY.empty_subset())


def test_all_mapping_between_partitioned_assets():
    mapping = AllPartitionMapping()
    down = REGIONS.subset_with_partition_keys(["eu"])
    assert len(mapping.upstream_partitions_for(down, DAILY, current_time=NOW)) == 60
    assert not mapping.upstream_partitions_for(REGIONS.empty_subset(), DAILY, current_time=NOW)
    up = DAILY.subset_with_partition_keys(["2024-01-02"])
    assert keys(mapping.downstream_partitions_for(up, REGIONS)) == ["eu", "us"]
    assert not mapping.downstream_partitions_for(DAILY.empty_subset(), REGIONS)


def test_last_mapping_reads_only_the_latest_partition():
    mapping = LastPartitionMapping()
    assert keys(mapping.upstream_partitions_for(None, DAILY, current_time=NOW)) == ["2024-02-29"]
    latest = DAILY.subset_with_partition_keys(["2024-02-29"])
    older = DAILY.subset_with_partition_keys(["2024-02-28"])
    assert mapping.affects_unpartitioned_downstream(latest, current_time=NOW)
    assert not mapping.affects_unpartitioned_downstream(older, current_time=NOW)
    assert keys(mapping.downstream_partitions_for(latest, REGIONS, current_time=NOW)) == [
        "eu",
        "us",
    ]
    assert not mapping.downstream_partitions_for(older, REGIONS, current_time=NOW)


def test_static_mapping_both_ways():
    teams = StaticPartitionsDefinition(["emea", "amer"])
    countries = StaticPartitionsDefinition(["de", "fr", "us", "ca"])
    mapping = StaticPartitionMapping({"emea": {"de", "fr"}, "amer": ["us", "ca"]})
    emea = teams.subset_with_partition_keys(["emea"])
    assert set(mapping.upstream_partitions_for(emea, countries)) == {"de", "fr"}
    fr = countries.subset_with_partition_keys(["fr"])
    assert keys(mapping.downstream_partitions_for(fr, teams)) == ["emea"]
    single = StaticPartitionMapping({"emea": "de"})
    assert keys(single.upstream_partitions_for(emea, countries)) == ["de"]


def test_static_mapping_to_an_unknown_upstream_key_fails_clearly():
    mapping = StaticPartitionMapping({"eu": "mars"})
    with pytest.raises(Exception, match="'mars'"):
        mapping.upstream_partitions_for(REGIONS.subset_with_partition_keys(["eu"]), REGIONS)


def test_partitioned_only_mappings_reject_an_unpartitioned_downstream():
    with pytest.raises(PartitionsDefinitionMismatch, match="AllPartitionMapping"):
        IdentityPartitionMapping().upstream_partitions_for(None, DAILY)


# --- multi -----------------------------------------------------------------------


MULTI = MultiPartitionsDefinition({"date": DAILY, "region": REGIONS})


def test_multi_mapping_shifts_the_date_and_keeps_the_region():
    mapping = MultiPartitionMapping(
        {
            "date": DimensionPartitionMapping("date", TimeWindowPartitionMapping(-1, -1)),
            "region": DimensionPartitionMapping("region", IdentityPartitionMapping()),
        }
    )
    down = MULTI.subset_with_partition_keys(["2024-01-15|eu", "2024-01-20|us"])
    assert keys(mapping.upstream_partitions_for(down, MULTI)) == ["2024-01-14|eu", "2024-01-19|us"]
    up = MULTI.subset_with_partition_keys(["2024-01-14|eu"])
    assert keys(mapping.downstream_partitions_for(up, MULTI)) == ["2024-01-15|eu"]


def test_multi_mapping_defaults_to_identity_per_dimension():
    down = MULTI.subset_with_partition_keys(["2024-01-15|eu"])
    assert keys(MultiPartitionMapping().upstream_partitions_for(down, MULTI)) == ["2024-01-15|eu"]


def test_multi_mapping_across_renamed_dimensions_and_granularities():
    monthly_by_region = MultiPartitionsDefinition(
        {"month": MonthlyPartitionsDefinition("2024-01-01"), "region": REGIONS}
    )
    mapping = MultiPartitionMapping(
        {"date": DimensionPartitionMapping("month", TimeWindowPartitionMapping())}
    )
    down = monthly_by_region.subset_with_partition_keys(["2024-02-01|us"])
    upstream = mapping.upstream_partitions_for(down, MULTI)
    assert len(upstream) == 29
    assert {k.keys_by_dimension["region"] for k in upstream} == {"us"}
    up = MULTI.subset_with_partition_keys(["2024-02-10|us", "2024-03-10|eu"])
    assert keys(mapping.downstream_partitions_for(up, monthly_by_region)) == [
        "2024-02-01|us",
        "2024-03-01|eu",
    ]


def test_multi_mapping_to_a_missing_dimension_fails_clearly():
    mapping = MultiPartitionMapping(
        {"date": DimensionPartitionMapping("day", IdentityPartitionMapping())}
    )
    with pytest.raises(PartitionsDefinitionMismatch, match="'day', which does not exist"):
        mapping.upstream_partitions_for(MULTI.empty_subset(), MULTI)


def test_multi_to_single_dimension_both_directions():
    mapping = MultiToSingleDimensionPartitionMapping()
    day = DAILY.subset_with_partition_keys(["2024-01-15"])
    # A daily asset reading a date x region asset reads every region of its day.
    assert keys(mapping.upstream_partitions_for(day, MULTI, current_time=NOW)) == [
        "2024-01-15|eu",
        "2024-01-15|us",
    ]
    one = MULTI.subset_with_partition_keys(["2024-01-15|us", "2024-01-16|us"])
    assert keys(mapping.downstream_partitions_for(one, DAILY)) == ["2024-01-15", "2024-01-16"]
    # And the other way round: a (day, region) partition reads that day.
    assert keys(mapping.upstream_partitions_for(one, DAILY)) == ["2024-01-15", "2024-01-16"]
    by_region = MultiToSingleDimensionPartitionMapping("region")
    assert keys(by_region.downstream_partitions_for(one, REGIONS)) == ["us"]


# --- inference ---------------------------------------------------------------------


def test_infer_partition_mapping():
    weekly = WeeklyPartitionsDefinition("2024-01-01")
    assert infer_partition_mapping(DAILY, DailyPartitionsDefinition("2024-01-01")) == (
        IdentityPartitionMapping()
    )
    assert infer_partition_mapping(DAILY, None) == AllPartitionMapping()
    assert infer_partition_mapping(None, DAILY) == AllPartitionMapping()
    assert infer_partition_mapping(DAILY, weekly) == TimeWindowPartitionMapping(0, 0)
    assert infer_partition_mapping(MULTI, DAILY) == MultiToSingleDimensionPartitionMapping()
    assert infer_partition_mapping(REGIONS, MULTI) == MultiToSingleDimensionPartitionMapping()
    assert infer_partition_mapping(MULTI, MULTI) == IdentityPartitionMapping()
    other_multi = MultiPartitionsDefinition({"date": weekly, "region": REGIONS})
    assert infer_partition_mapping(MULTI, other_multi) == MultiPartitionMapping()
    assert infer_partition_mapping(REGIONS, DynamicPartitionsDefinition("x")) == (
        IdentityPartitionMapping()
    )
