"""Time windows across daylight-saving changes in Europe/Berlin and America/New_York.

2024 transitions: Berlin springs forward on 31 March (02:00 -> 03:00) and falls back
on 27 October (03:00 -> 02:00); New York springs forward on 10 March (02:00 -> 03:00)
and falls back on 3 November (02:00 -> 01:00).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from assay.partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    TimeWindow,
    UnknownPartitionKey,
)

LATER = datetime(2025, 1, 1, tzinfo=UTC)

# (zone, day, hours in that day, the local hour that is skipped or repeated)
TRANSITIONS = [
    ("Europe/Berlin", "2024-03-31", 23, "02:00"),
    ("Europe/Berlin", "2024-10-27", 25, "02:00"),
    ("America/New_York", "2024-03-10", 23, "02:00"),
    ("America/New_York", "2024-11-03", 25, "01:00"),
]


def hourly_keys_on(zone: str, day: str) -> list[str]:
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone=zone)
    return [k for k in hourly.get_partition_keys(current_time=LATER) if k.startswith(day)]


@pytest.mark.parametrize(("zone", "day", "hours", "_hour"), TRANSITIONS)
def test_hourly_partitions_on_a_dst_day_number_the_real_hours(zone, day, hours, _hour):
    assert len(hourly_keys_on(zone, day)) == hours


@pytest.mark.parametrize(("zone", "day", "hours", "hour"), TRANSITIONS)
def test_hourly_windows_on_a_dst_day_are_each_one_real_hour(zone, day, hours, hour):
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone=zone)
    keys = hourly_keys_on(zone, day)
    windows = [hourly.time_window_for_partition_key(k) for k in keys]
    assert all(w.duration == timedelta(hours=1) for w in windows)
    # Contiguous: each window starts where the previous ended, and the day is covered.
    # (Compare instants: Python compares datetimes sharing a tzinfo by wall clock.)
    assert all(a.end.timestamp() == b.start.timestamp() for a, b in itertools.pairwise(windows))
    assert TimeWindow(windows[0].start, windows[-1].end).duration == timedelta(hours=hours)


def test_berlin_spring_forward_skips_the_missing_hour():
    keys = hourly_keys_on("Europe/Berlin", "2024-03-31")
    assert keys[:3] == ["2024-03-31-00:00", "2024-03-31-01:00", "2024-03-31-03:00"]
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="Europe/Berlin")
    with pytest.raises(UnknownPartitionKey):
        hourly.get_index_for_partition_key("2024-03-31-02:00")
    window = hourly.time_window_for_partition_key("2024-03-31-01:00")
    assert window.start.astimezone(UTC) == datetime(2024, 3, 31, 0, tzinfo=UTC)
    assert window.end.astimezone(UTC) == datetime(2024, 3, 31, 1, tzinfo=UTC)
    assert window.end.astimezone(ZoneInfo("Europe/Berlin")).hour == 3


def test_berlin_fall_back_repeats_an_hour_with_a_distinct_key():
    keys = hourly_keys_on("Europe/Berlin", "2024-10-27")
    assert keys[1:5] == [
        "2024-10-27-01:00",
        "2024-10-27-02:00",
        "2024-10-27-02:00+01:00",
        "2024-10-27-03:00",
    ]
    assert len(set(keys)) == 25
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="Europe/Berlin")
    first = hourly.time_window_for_partition_key("2024-10-27-02:00")
    second = hourly.time_window_for_partition_key("2024-10-27-02:00+01:00")
    assert first.start.astimezone(UTC) == datetime(2024, 10, 27, 0, tzinfo=UTC)
    assert second.start.astimezone(UTC) == datetime(2024, 10, 27, 1, tzinfo=UTC)
    assert first != second
    assert first.end.timestamp() == second.start.timestamp()


def test_new_york_fall_back_repeats_one_am():
    keys = hourly_keys_on("America/New_York", "2024-11-03")
    assert keys[:4] == [
        "2024-11-03-00:00",
        "2024-11-03-01:00",
        "2024-11-03-01:00-05:00",
        "2024-11-03-02:00",
    ]
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="America/New_York")
    second = hourly.time_window_for_partition_key("2024-11-03-01:00-05:00")
    assert second.start.astimezone(UTC) == datetime(2024, 11, 3, 6, tzinfo=UTC)


def test_new_york_spring_forward_skips_two_am():
    keys = hourly_keys_on("America/New_York", "2024-03-10")
    assert "2024-03-10-02:00" not in keys
    assert keys[2] == "2024-03-10-03:00"


def test_a_wrong_offset_suffix_is_not_a_key():
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="Europe/Berlin")
    assert hourly.get_index_for_partition_key_or_none("2024-10-27-02:00+05:00") is None
    assert hourly.get_index_for_partition_key_or_none("2024-10-27-02:00+02:00") is None
    assert hourly.get_index_for_partition_key_or_none("2024-10-27-04:00+01:00") is None


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("Europe/Berlin", "2024-03-31", 23),
        ("Europe/Berlin", "2024-10-27", 25),
        ("America/New_York", "2024-03-10", 23),
        ("America/New_York", "2024-11-03", 25),
    ],
)
def test_daily_windows_on_dst_days_are_23_or_25_hours(zone, day, hours):
    daily = DailyPartitionsDefinition(start_date="2024-01-01", timezone=zone)
    window = daily.time_window_for_partition_key(day)
    assert window.duration == timedelta(hours=hours)
    assert window.start.hour == 0 and window.end.hour == 0
    assert window.start.tzinfo == ZoneInfo(zone)


def test_daily_partitions_in_a_zone_end_at_local_midnight():
    daily = DailyPartitionsDefinition(start_date="2024-03-30", timezone="Europe/Berlin")
    # 31 March ends at midnight Berlin = 22:00 UTC (summer time).
    assert daily.get_partition_keys(current_time=datetime(2024, 3, 31, 21, 59, tzinfo=UTC)) == [
        "2024-03-30"
    ]
    assert daily.get_partition_keys(current_time=datetime(2024, 3, 31, 22, 0, tzinfo=UTC)) == [
        "2024-03-30",
        "2024-03-31",
    ]


def test_daily_at_a_skipped_local_time_runs_after_the_gap():
    # 02:30 does not exist in Berlin on 31 March: that day's window starts at 03:30.
    daily = DailyPartitionsDefinition(
        start_date="2024-03-29", hour_offset=2, minute_offset=30, timezone="Europe/Berlin"
    )
    window = daily.time_window_for_partition_key("2024-03-31")
    berlin = ZoneInfo("Europe/Berlin")
    assert window.start.astimezone(berlin).replace(tzinfo=None) == datetime(2024, 3, 31, 3, 30)
    assert window.duration == timedelta(hours=23)
    previous = daily.time_window_for_partition_key("2024-03-30")
    assert previous.end.timestamp() == window.start.timestamp()


def test_partition_key_for_time_in_the_repeated_hour():
    hourly = HourlyPartitionsDefinition(start_date="2024-01-01-00:00", timezone="Europe/Berlin")
    assert hourly.get_partition_key_for_time(datetime(2024, 10, 27, 0, 30, tzinfo=UTC)) == (
        "2024-10-27-02:00"
    )
    assert hourly.get_partition_key_for_time(datetime(2024, 10, 27, 1, 30, tzinfo=UTC)) == (
        "2024-10-27-02:00+01:00"
    )


def test_time_window_equality_uses_instants_not_wall_clock():
    berlin = ZoneInfo("Europe/Berlin")
    first = datetime(2024, 10, 27, 2, 0, tzinfo=berlin, fold=0)
    second = datetime(2024, 10, 27, 2, 0, tzinfo=berlin, fold=1)
    assert TimeWindow(first, second) != TimeWindow(second, second)
