"""Cron tick math: when a cron schedule fires, in a time zone, across DST changes.

Cron expressions are evaluated on the *wall clock* of the schedule's time zone
(croniter on naive local times); each nominal wall-clock tick is then resolved to
an absolute instant with one rule, the same everywhere in Assay:

* When the cron's hour field is ``*`` (hourly or finer), a tick happens at every
  instant whose local time matches: a wall-clock time skipped by a spring-forward
  change has no tick, a time repeated by a fall-back change ticks twice. An hourly
  schedule therefore ticks 23 times on a spring-forward day and 25 on a fall-back day.
* Otherwise (a fixed hour, e.g. daily at 02:30), the schedule ticks once per
  nominal time: a skipped time ticks at the same offset after the gap (02:30 ->
  03:30 local), a repeated time ticks at its first occurrence.

Every function returns timezone-aware datetimes in the schedule's time zone and
accepts any aware datetime (naive ones are read as UTC).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import timezone as fixed_offset
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterError, croniter

__all__ = [
    "InvalidCronSchedule",
    "InvalidTimezone",
    "cron_ticks",
    "get_timezone",
    "is_valid_cron_schedule",
    "next_tick",
    "previous_tick",
    "ticks_between",
    "validate_cron_schedule",
    "wall_time_instants",
]

# Larger than any DST shift: how far around ``start`` the wall-clock walk begins,
# and how long a tick stays buffered in case a later wall time maps before it.
_MAX_DST_SHIFT = timedelta(hours=3)


class InvalidCronSchedule(ValueError):
    """A cron expression that cannot be parsed."""


class InvalidTimezone(ValueError):
    """A time zone name that is not in the IANA database."""


@lru_cache(maxsize=256)
def get_timezone(name: str) -> tzinfo:
    """Return the IANA time zone ``name``, or raise :class:`InvalidTimezone`."""
    if name in ("UTC", "Etc/UTC", "utc"):
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
        raise InvalidTimezone(
            f"unknown time zone {name!r}: use an IANA name such as 'UTC', "
            "'Europe/Berlin' or 'America/New_York'"
        ) from exc


def is_valid_cron_schedule(cron_schedule: str) -> bool:
    """Whether ``cron_schedule`` is a five-field cron expression Assay accepts."""
    try:
        validate_cron_schedule(cron_schedule)
    except InvalidCronSchedule:
        return False
    return True


@lru_cache(maxsize=1024)
def validate_cron_schedule(cron_schedule: str) -> str:
    """Return the normalised expression or raise :class:`InvalidCronSchedule`."""
    if not isinstance(cron_schedule, str):
        raise InvalidCronSchedule(f"a cron schedule must be a string, got {cron_schedule!r}")
    normalised = " ".join(cron_schedule.split())
    fields = normalised.split(" ")
    if len(fields) != 5:
        raise InvalidCronSchedule(
            f"invalid cron schedule {cron_schedule!r}: expected five fields "
            "'minute hour day-of-month month day-of-week', e.g. '0 6 * * *'"
        )
    try:
        walker = croniter(normalised, datetime(2000, 1, 1))
    except (CroniterError, ValueError, KeyError) as exc:
        raise InvalidCronSchedule(f"invalid cron schedule {cron_schedule!r}: {exc}") from exc
    try:
        walker.get_next(datetime)
    except CroniterError as exc:
        raise InvalidCronSchedule(
            f"cron schedule {cron_schedule!r} never fires (e.g. 30 February)"
        ) from exc
    return normalised


def _has_wildcard_hour(cron_schedule: str) -> bool:
    return cron_schedule.split(" ")[1] == "*"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def wall_time_instants(wall: datetime, tz: tzinfo, *, every_occurrence: bool) -> list[datetime]:
    """The UTC instants at which naive local time ``wall`` ticks, by the module's DST rule.

    ``every_occurrence`` is the rule for wildcard-hour crons: skipped times give no
    instant and repeated times give two; otherwise exactly one instant is returned.
    """
    first = wall.replace(tzinfo=tz, fold=0)
    second = wall.replace(tzinfo=tz, fold=1)
    first_utc = first.astimezone(UTC)
    if first.utcoffset() == second.utcoffset():
        return [first_utc]
    second_utc = second.astimezone(UTC)
    # Offsets differ: the time is either repeated or skipped. A skipped time does
    # not survive the round trip back to the wall clock.
    skipped = first_utc.astimezone(tz).replace(tzinfo=None) != wall
    if skipped:
        return [] if every_occurrence else [first_utc]
    if every_occurrence:
        return sorted([first_utc, second_utc])
    return [min(first_utc, second_utc)]


def cron_ticks(
    cron_schedule: str,
    *,
    start: datetime,
    timezone: str = "UTC",
    inclusive: bool = True,
    ascending: bool = True,
) -> Iterator[datetime]:
    """Yield ticks from ``start`` onwards (or backwards when ``ascending=False``).

    ``inclusive`` decides whether a tick exactly at ``start`` is yielded. Ticks are
    strictly monotonic and localised to ``timezone``.
    """
    cron = validate_cron_schedule(cron_schedule)
    tz = get_timezone(timezone)
    start_utc = _as_utc(start)
    every_occurrence = _has_wildcard_hour(cron)
    # Start the wall-clock walk a day early/late so that no tick whose instant is
    # near ``start`` is missed because of the UTC offset or a DST change.
    wall_start = start_utc.astimezone(tz).replace(tzinfo=None)
    # A fixed-offset zone has no DST: nothing to look around for or buffer.
    shift = timedelta(0) if isinstance(tz, fixed_offset) else _MAX_DST_SHIFT
    # croniter yields strictly after (or before) its start; a minute of margin keeps a
    # tick exactly at ``start`` (the filter below decides whether it is wanted).
    margin = shift + timedelta(minutes=1)
    wall_start = wall_start - margin if ascending else wall_start + margin
    step = _wall_walker(cron, wall_start, ascending=ascending)
    heap: list[tuple[float, datetime]] = []  # (sort key, instant), earliest-first or latest-first
    sign = 1 if ascending else -1
    last: datetime | None = None
    while True:
        wall = step()
        for instant in wall_time_instants(wall, tz, every_occurrence=every_occurrence):
            stamp = instant.timestamp()
            heapq.heappush(heap, (stamp if ascending else -stamp, instant))
        # Any wall time further along maps to an instant beyond this bound.
        bound = wall.replace(tzinfo=tz).astimezone(UTC) - sign * shift
        while heap:
            instant = heap[0][1]
            if (instant > bound) if ascending else (instant < bound):
                break
            heapq.heappop(heap)
            if last is not None and (instant <= last if ascending else instant >= last):
                continue
            if ascending and (instant < start_utc or (instant == start_utc and not inclusive)):
                continue
            if not ascending and (instant > start_utc or (instant == start_utc and not inclusive)):
                continue
            last = instant
            yield instant.astimezone(tz)


def _wall_walker(cron: str, wall_start: datetime, *, ascending: bool) -> Callable[[], datetime]:
    """Successive nominal wall times strictly after (or before) ``wall_start``.

    Hourly crons ("M * * * *") are stepped by arithmetic, which is much faster than
    croniter and matters for years of hourly partitions; everything else uses croniter.
    """
    minute, *rest = cron.split(" ")
    if minute.isdigit() and rest == ["*", "*", "*", "*"]:
        hour = timedelta(hours=1)
        wall = wall_start.replace(minute=int(minute), second=0, microsecond=0)
        if ascending and wall <= wall_start:
            wall += hour
        if not ascending and wall >= wall_start:
            wall -= hour
        state = [wall - hour if ascending else wall + hour]

        def step_hour() -> datetime:
            state[0] = state[0] + hour if ascending else state[0] - hour
            return state[0]

        return step_hour
    walker = croniter(cron, wall_start)
    get = walker.get_next if ascending else walker.get_prev
    return lambda: get(datetime)


def next_tick(cron_schedule: str, after: datetime, *, timezone: str = "UTC") -> datetime:
    """The first tick strictly after ``after``."""
    return next(cron_ticks(cron_schedule, start=after, timezone=timezone, inclusive=False))


def previous_tick(cron_schedule: str, before: datetime, *, timezone: str = "UTC") -> datetime:
    """The last tick at or before ``before`` (the tick that most recently passed)."""
    return next(cron_ticks(cron_schedule, start=before, timezone=timezone, ascending=False))


def ticks_between(
    cron_schedule: str, start: datetime, end: datetime, *, timezone: str = "UTC"
) -> list[datetime]:
    """Ticks ``t`` with ``start < t <= end``: the ticks that passed during that span."""
    if _as_utc(end) < _as_utc(start):
        raise ValueError(f"end {end.isoformat()} is before start {start.isoformat()}")
    end_utc = _as_utc(end)
    ticks = []
    for tick in cron_ticks(cron_schedule, start=start, timezone=timezone, inclusive=False):
        if tick > end_utc:
            break
        ticks.append(tick)
    return ticks
