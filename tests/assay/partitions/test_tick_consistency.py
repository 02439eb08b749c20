"""The arithmetic fast paths agree with the cron walk, and keys, indices and windows agree."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assay.partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    MonthlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    WeeklyPartitionsDefinition,
)
from assay.schedules import cron_ticks

DEFINITIONS = {
    "daily-utc": DailyPartitionsDefinition("2023-01-01"),
    "daily-berlin": DailyPartitionsDefinition("2023-01-01", timezone="Europe/Berlin"),
    "daily-0230-berlin": DailyPartitionsDefinition(
        "2023-01-01", hour_offset=2, minute_offset=30, timezone="Europe/Berlin"
    ),
    "daily-0130-new-york": DailyPartitionsDefinition(
        "2023-01-01", hour_offset=1, minute_offset=30, timezone="America/New_York"
    ),
    "hourly-utc": HourlyPartitionsDefinition("2023-01-01-00:00", minute_offset=15),
    "hourly-berlin": HourlyPartitionsDefinition("2023-01-01-00:00", timezone="Europe/Berlin"),
    "hourly-new-york": HourlyPartitionsDefinition("2023-01-01-00:00", timezone="America/New_York"),
    "weekly-new-york": WeeklyPartitionsDefinition(
        "2023-01-01", day_offset=3, timezone="America/New_York"
    ),
    "monthly-berlin": MonthlyPartitionsDefinition("2023-01-01", timezone="Europe/Berlin"),
    "custom-berlin": TimeWindowPartitionsDefinition(
        cron_schedule="0 6,18 * * 1-5",
        fmt="%Y-%m-%d %H:%M",
        start="2023-01-01 00:00",
        timezone="Europe/Berlin",
    ),
}


@pytest.mark.parametrize("name", sorted(DEFINITIONS))
def test_ticks_match_the_cron_walk_over_two_years(name):
    definition = DEFINITIONS[name]
    count = {"hourly": 2 * 8784}.get(name.split("-")[0], 800)
    walk = cron_ticks(
        definition.cron_schedule, start=definition.start, timezone=definition.timezone
    )
    expected = [next(walk).astimezone(UTC) for _ in range(count)]
    assert [definition.tick(i) for i in range(count)] == expected


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(DEFINITIONS)), st.integers(0, 15_000))
def test_keys_indices_and_windows_agree(name, index):
    definition = DEFINITIONS[name]
    key = definition.get_partition_key_for_index(index)
    assert definition.get_index_for_partition_key(key) == index
    window = definition.time_window_for_index(index)
    following = definition.time_window_for_index(index + 1)
    assert window.end.timestamp() == following.start.timestamp()
    assert window.duration > timedelta(0)
    assert definition.floor_index(window.start) == index
    assert definition.floor_index(window.end - timedelta(seconds=1)) == index
    assert definition.get_partition_key_for_time(window.start) == key


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(sorted(DEFINITIONS)),
    st.datetimes(min_value=datetime(2023, 1, 1), max_value=datetime(2026, 1, 1)),
)
def test_partition_count_is_the_number_of_ended_windows(name, moment):
    definition = DEFINITIONS[name]
    now = moment.replace(tzinfo=UTC)
    count = definition.get_num_partitions(current_time=now)
    if count:
        assert definition.time_window_for_index(count - 1).end <= now
    assert definition.time_window_for_index(count).end > now
