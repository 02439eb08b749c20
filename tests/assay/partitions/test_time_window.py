"""Time-window partitions: keys, windows, bounds, end offsets and errors."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from assay.partitions import (
    DailyPartitionsDefinition,
    HourlyPartitionsDefinition,
    InvalidCronSchedule,
    InvalidPartitionsDefinition,
    InvalidTimezone,
    MonthlyPartitionsDefinition,
    PartitionKeyRange,
    TimeWindow,
    TimeWindowPartitionsDefinition,
    UnknownPartitionKey,
    WeeklyPartitionsDefinition,
)

NOW = datetime(2024, 3, 1, 12, 30, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_daily_keys_cover_every_complete_day_before_now():
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    keys = daily.get_partition_keys(current_time=NOW)
    assert len(keys) == 60
    assert keys[0] == "2024-01-01"
    assert keys[-1] == "2024-02-29"
    assert daily.get_last_partition_key(current_time=NOW) == "2024-02-29"
    assert daily.get_num_partitions(current_time=NOW) == 60


def test_daily_window_is_the_day_in_its_time_zone():
    daily = DailyPartitionsDefinition(start_date="2024-01-01")
    window = daily.time_window_for_partition_key("2024-01-15")
    assert window == TimeWindow(utc(2024, 1, 15), utc(2024, 1, 16))
    assert daily.get_index_for_partition_key("2024-01-15") == 14
    assert daily.get_partition_key_for_index(14) == "2024-01-15"


def test_end_offset_includes_the_partition_in_progress():
    assert (
        DailyPartitionsDefinition("2024-01-01", end_offset=1).get_last_partition_key(
            current_time=NOW
        )
        == "2024-03-01"
    )
    assert (
        DailyPartitionsDefinition("2024-01-01", end_offset=-1).get_last_partition_key(
            current_time=NOW
        )
        == "2024-02-28"
    )


def test_no_partitions_before_the_first_window_ends():
    daily = DailyPartitionsDefinition("2024-01-01")
    assert daily.get_partition_keys(current_time=utc(2024, 1, 1, 23)) == []
    assert daily.get_last_partition_key(current_time=utc(2023, 6, 1)) is None
    assert daily.get_partition_keys(current_time=utc(2024, 1, 2)) == ["2024-01-01"]


def test_end_date_is_exclusive_and_caps_the_set():
    daily = DailyPartitionsDefinition("2024-01-01", end_date="2024-01-04", end_offset=5)
    assert daily.get_partition_keys(current_time=NOW) == ["2024-01-01", "2024-01-02", "2024-01-03"]
    assert not daily.has_partition_key("2024-01-04", current_time=NOW)
    with pytest.raises(UnknownPartitionKey):
        daily.get_index_for_partition_key("2024-01-04")


def test_hourly_keys_and_windows():
    hourly = HourlyPartitionsDefinition(start_date="2024-01-15-00:00")
    keys = hourly.get_partition_keys(current_time=utc(2024, 1, 15, 14, 5))
    assert keys[-1] == "2024-01-15-13:00"
    assert len(keys) == 14
    assert hourly.time_window_for_partition_key("2024-01-15-13:00") == TimeWindow(
        utc(2024, 1, 15, 13), utc(2024, 1, 15, 14)
    )


def test_weekly_partitions_start_on_the_chosen_weekday():
    sundays = WeeklyPartitionsDefinition(start_date="2024-01-01")
    assert sundays.get_partition_keys(current_time=utc(2024, 1, 29)) == [
        "2024-01-07",
        "2024-01-14",
        "2024-01-21",
    ]
    mondays = WeeklyPartitionsDefinition(start_date="2024-01-01", day_offset=1)
    assert mondays.get_partition_keys(current_time=utc(2024, 1, 16))[:2] == [
        "2024-01-01",
        "2024-01-08",
    ]
    assert mondays.time_window_for_partition_key("2024-01-08").duration == timedelta(days=7)


def test_monthly_partitions_have_calendar_month_windows():
    monthly = MonthlyPartitionsDefinition(start_date="2023-11-01")
    assert monthly.get_partition_keys(current_time=NOW) == [
        "2023-11-01",
        "2023-12-01",
        "2024-01-01",
        "2024-02-01",
    ]
    assert monthly.time_window_for_partition_key("2024-02-01").duration == timedelta(days=29)
    assert monthly.get_index_for_partition_key("2024-01-01") == 2


def test_monthly_with_day_offset_and_a_far_index():
    monthly = MonthlyPartitionsDefinition(start_date="2020-01-01", day_offset=15)
    assert monthly.get_partition_key_for_index(0) == "2020-01-15"
    assert monthly.get_partition_key_for_index(49) == "2024-02-15"
    assert monthly.get_index_for_partition_key("2024-02-15") == 49


def test_start_accepts_dates_datetimes_and_iso_strings():
    for start in ("2024-01-01", date(2024, 1, 1), datetime(2024, 1, 1), "2024-01-01T00:00:00"):
        assert DailyPartitionsDefinition(start).get_first_partition_key(NOW) == "2024-01-01"


def test_start_between_ticks_begins_at_the_next_tick():
    daily = DailyPartitionsDefinition(start_date=datetime(2024, 1, 1, 6, tzinfo=UTC))
    assert daily.get_first_partition_key(NOW) == "2024-01-02"


def test_custom_cron_and_format():
    every_six_hours = TimeWindowPartitionsDefinition(
        cron_schedule="0 */6 * * *", fmt="%Y%m%dT%H", start="20240101T00"
    )
    assert every_six_hours.get_partition_keys(current_time=utc(2024, 1, 2, 1)) == [
        "20240101T00",
        "20240101T06",
        "20240101T12",
        "20240101T18",
    ]
    assert every_six_hours.get_index_for_partition_key("20240101T12") == 2
    assert every_six_hours.get_index_for_partition_key_or_none("20240101T13") is None


def test_equal_arguments_make_equal_definitions():
    assert DailyPartitionsDefinition("2024-01-01") == DailyPartitionsDefinition(date(2024, 1, 1))
    assert hash(DailyPartitionsDefinition("2024-01-01")) == hash(
        TimeWindowPartitionsDefinition("0 0 * * *", "%Y-%m-%d", "2024-01-01")
    )
    assert DailyPartitionsDefinition("2024-01-01") != DailyPartitionsDefinition("2024-01-02")
    assert DailyPartitionsDefinition("2024-01-01") != DailyPartitionsDefinition(
        "2024-01-01", timezone="Europe/Berlin"
    )


def test_partition_key_for_time_finds_the_containing_window():
    daily = DailyPartitionsDefinition("2024-01-01")
    assert daily.get_partition_key_for_time(utc(2024, 1, 15, 23, 59)) == "2024-01-15"
    assert daily.get_partition_key_for_time(utc(2023, 12, 31)) is None


def test_keys_in_range_are_inclusive():
    daily = DailyPartitionsDefinition("2024-01-01")
    assert daily.get_partition_keys_in_range(PartitionKeyRange("2024-01-30", "2024-02-02")) == [
        "2024-01-30",
        "2024-01-31",
        "2024-02-01",
        "2024-02-02",
    ]
    with pytest.raises(InvalidPartitionsDefinition, match="ends before it starts"):
        daily.get_partition_keys_in_range(PartitionKeyRange("2024-02-02", "2024-01-30"))


@pytest.mark.parametrize(
    "bad_key", ["2024-1-5", "2023-12-31", "2024-02-30", "yesterday", "2024-01-15-00:00", ""]
)
def test_unknown_keys_are_rejected_with_an_example_of_a_good_one(bad_key):
    daily = DailyPartitionsDefinition("2024-01-01")
    with pytest.raises(UnknownPartitionKey, match="keys look like '2024-01-01'"):
        daily.get_index_for_partition_key(bad_key)
    assert not daily.has_partition_key(bad_key, current_time=NOW)


def test_end_before_start_is_rejected():
    with pytest.raises(InvalidPartitionsDefinition, match="is not after start"):
        DailyPartitionsDefinition("2024-01-10", end_date="2024-01-01")


def test_unreadable_start_is_rejected():
    with pytest.raises(InvalidPartitionsDefinition, match="cannot read start 'January 1st'"):
        DailyPartitionsDefinition("January 1st")


def test_invalid_timezone_is_rejected():
    with pytest.raises(InvalidTimezone, match="unknown time zone 'Mars/Olympus'"):
        DailyPartitionsDefinition("2024-01-01", timezone="Mars/Olympus")


def test_invalid_cron_is_rejected():
    with pytest.raises(InvalidCronSchedule, match="expected five fields"):
        TimeWindowPartitionsDefinition(cron_schedule="0 0 *", fmt="%Y-%m-%d", start="2024-01-01")
    with pytest.raises(InvalidCronSchedule, match="'61 \\* \\* \\* \\*'"):
        TimeWindowPartitionsDefinition(
            cron_schedule="61 * * * *", fmt="%Y-%m-%d", start="2024-01-01"
        )


def test_monthly_day_offset_must_exist_in_every_month():
    with pytest.raises(InvalidPartitionsDefinition, match="between 1 and 28"):
        MonthlyPartitionsDefinition("2024-01-01", day_offset=31)


def test_key_index_conversion_is_arithmetic_and_fast():
    hourly = HourlyPartitionsDefinition("2010-01-01-00:00")
    # Far-away indices cost the same as near ones: no iteration from the start.
    assert hourly.get_partition_key_for_index(100_000) == "2021-05-29-16:00"
    assert hourly.get_index_for_partition_key("2021-05-29-16:00") == 100_000
    daily = DailyPartitionsDefinition("2000-01-01")
    assert daily.get_index_for_partition_key("2024-01-01") == 8766


def test_definitions_pickle_and_keep_working():
    import pickle

    for definition in (
        DailyPartitionsDefinition("2024-01-01", timezone="Europe/Berlin"),
        HourlyPartitionsDefinition("2024-01-01-00:00", timezone="America/New_York"),
    ):
        definition.get_partition_keys(current_time=NOW)  # fill the caches first
        copy = pickle.loads(pickle.dumps(definition))
        assert copy == definition
        assert copy.get_partition_keys(current_time=NOW) == definition.get_partition_keys(
            current_time=NOW
        )


def test_a_cron_that_never_fires_is_rejected():
    with pytest.raises(InvalidCronSchedule, match="never fires"):
        TimeWindowPartitionsDefinition(
            cron_schedule="0 0 30 2 *", fmt="%Y-%m-%d", start="2024-01-01"
        )
