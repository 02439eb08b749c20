"""Cron tick math: next/previous/between, time zones and DST."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from assay.schedules import (
    InvalidCronSchedule,
    InvalidTimezone,
    cron_ticks,
    is_valid_cron_schedule,
    next_tick,
    previous_tick,
    ticks_between,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_next_tick_is_strictly_after():
    assert next_tick("0 6 * * *", utc(2024, 1, 1, 5, 59)) == utc(2024, 1, 1, 6)
    assert next_tick("0 6 * * *", utc(2024, 1, 1, 6)) == utc(2024, 1, 2, 6)


def test_previous_tick_includes_the_instant_itself():
    assert previous_tick("0 6 * * *", utc(2024, 1, 1, 6)) == utc(2024, 1, 1, 6)
    assert previous_tick("0 6 * * *", utc(2024, 1, 1, 5)) == utc(2023, 12, 31, 6)


def test_ticks_between_is_start_exclusive_end_inclusive():
    ticks = ticks_between("0 0 * * *", utc(2024, 1, 1), utc(2024, 1, 4))
    assert ticks == [utc(2024, 1, 2), utc(2024, 1, 3), utc(2024, 1, 4)]
    with pytest.raises(ValueError, match="is before start"):
        ticks_between("0 0 * * *", utc(2024, 1, 4), utc(2024, 1, 1))


def test_ticks_are_in_the_schedule_time_zone():
    tick = next_tick("0 9 * * 1-5", utc(2024, 1, 5, 12), timezone="Europe/Berlin")
    assert tick.tzinfo == BERLIN
    assert tick.replace(tzinfo=None) == datetime(2024, 1, 8, 9)  # the next Monday
    assert tick == utc(2024, 1, 8, 8)


def test_naive_datetimes_are_read_as_utc():
    assert next_tick("0 6 * * *", datetime(2024, 1, 1, 5)) == utc(2024, 1, 1, 6)


def test_daily_schedule_keeps_local_time_across_dst():
    ticks = ticks_between("0 9 * * *", utc(2024, 3, 29), utc(2024, 4, 2), timezone="Europe/Berlin")
    assert [t.hour for t in ticks] == [9, 9, 9, 9]
    assert [t.astimezone(UTC).hour for t in ticks] == [8, 8, 7, 7]


@pytest.mark.parametrize(
    ("zone", "start", "end", "count"),
    [
        ("Europe/Berlin", utc(2024, 3, 30, 23), utc(2024, 3, 31, 22), 23),
        ("Europe/Berlin", utc(2024, 10, 26, 22), utc(2024, 10, 27, 23), 25),
        ("America/New_York", utc(2024, 3, 10, 5), utc(2024, 3, 11, 4), 23),
        ("America/New_York", utc(2024, 11, 3, 4), utc(2024, 11, 4, 5), 25),
    ],
)
def test_hourly_schedule_ticks_every_real_hour_on_dst_days(zone, start, end, count):
    ticks = ticks_between("0 * * * *", start, end, timezone=zone)
    assert len(ticks) == count
    gaps = {b.astimezone(UTC) - a.astimezone(UTC) for a, b in itertools.pairwise(ticks)}
    assert gaps == {timedelta(hours=1)}


def test_a_daily_time_skipped_by_spring_forward_runs_right_after_the_gap():
    tick = next_tick("30 2 * * *", utc(2024, 3, 30, 12), timezone="Europe/Berlin")
    assert tick.replace(tzinfo=None) == datetime(2024, 3, 31, 3, 30)
    assert tick == utc(2024, 3, 31, 1, 30)


def test_a_daily_time_repeated_by_fall_back_runs_once():
    ticks = ticks_between(
        "30 1 * * *", utc(2024, 11, 2, 12), utc(2024, 11, 4, 12), timezone="America/New_York"
    )
    assert [t.astimezone(UTC) for t in ticks] == [utc(2024, 11, 3, 5, 30), utc(2024, 11, 4, 6, 30)]


def test_sub_hourly_ticks_in_a_repeated_hour_stay_in_time_order():
    ticks = ticks_between(
        "*/30 * * * *", utc(2024, 10, 26, 23, 59), utc(2024, 10, 27, 2), timezone="Europe/Berlin"
    )
    instants = [t.astimezone(UTC) for t in ticks]
    assert instants == sorted(instants)
    # 00:00 .. 02:00 UTC: the wall clock reads 02:00 and 02:30 twice, then 03:00.
    assert [t.strftime("%H:%M") for t in ticks] == ["02:00", "02:30", "02:00", "02:30", "03:00"]


def test_previous_tick_across_fall_back():
    # 01:30 EST (the second 01:30) on 3 November: the last hourly tick is 01:00 EST.
    moment = datetime(2024, 11, 3, 1, 30, tzinfo=NEW_YORK, fold=1)
    tick = previous_tick("0 * * * *", moment, timezone="America/New_York")
    assert tick.astimezone(UTC) == utc(2024, 11, 3, 6)


def test_cron_ticks_walks_backwards():
    ticks = cron_ticks("0 0 * * *", start=utc(2024, 1, 3), ascending=False)
    assert [next(ticks), next(ticks)] == [utc(2024, 1, 3), utc(2024, 1, 2)]


@pytest.mark.parametrize(
    ("cron", "message"),
    [
        ("0 0 *", "expected five fields"),
        ("61 * * * *", "out of range"),
        ("every day", "expected five fields"),
        ("a b c d e", "invalid cron schedule 'a b c d e'"),
    ],
)
def test_invalid_cron_is_a_typed_error_with_a_clear_message(cron, message):
    with pytest.raises(InvalidCronSchedule, match=message):
        next_tick(cron, utc(2024, 1, 1))
    assert not is_valid_cron_schedule(cron)


def test_invalid_timezone_is_a_typed_error():
    with pytest.raises(InvalidTimezone, match="unknown time zone 'Europe/Atlantis'"):
        next_tick("0 0 * * *", utc(2024, 1, 1), timezone="Europe/Atlantis")


def test_valid_cron():
    assert is_valid_cron_schedule("*/5 * * * *")
    assert is_valid_cron_schedule("0  6 * *  1-5")
