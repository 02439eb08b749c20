"""Time-window partitions: one partition per cron tick interval, e.g. one per day.

Partition ``i`` covers ``[tick(i), tick(i + 1))`` where ``tick(0)`` is the first cron
tick at or after ``start``; its key is ``tick(i)`` formatted with ``fmt`` on the wall
clock of ``timezone``. Ticks follow the DST rule of :mod:`assay.schedules`, so an
hourly definition in Europe/Berlin has 23 partitions on the spring-forward day and
25 on the fall-back day. The repeated hour of a fall-back day would format to the
same key twice; its second occurrence gets the UTC offset appended, e.g.
``"2024-10-27-02:00+01:00"``.

Daily, weekly and monthly definitions (in any time zone) and hourly ones in a
fixed-offset zone convert between keys, indices and instants with arithmetic; any
other cron walks croniter once and caches the ticks.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from datetime import timezone as fixed_offset
from functools import lru_cache
from typing import Any

from assay.partitions.base import (
    DynamicPartitionsStore,
    PartitionsDefinition,
    resolve_current_time,
)
from assay.partitions.errors import InvalidPartitionsDefinition, UnknownPartitionKey
from assay.partitions.key_range import PartitionKeyRange
from assay.partitions.subset import IndexRange, TimeWindowPartitionsSubset
from assay.schedules import (
    cron_ticks,
    get_timezone,
    validate_cron_schedule,
    wall_time_instants,
)

__all__ = [
    "DailyPartitionsDefinition",
    "HourlyPartitionsDefinition",
    "MonthlyPartitionsDefinition",
    "TimeWindow",
    "TimeWindowPartitionsDefinition",
    "WeeklyPartitionsDefinition",
]

DAY_FMT = "%Y-%m-%d"
HOUR_FMT = "%Y-%m-%d-%H:%M"


@dataclass(frozen=True, slots=True, eq=False)
class TimeWindow:
    """A half-open span ``[start, end)`` of absolute time, shown in the partition's zone.

    Equality compares instants, not wall-clock readings (Python compares two datetimes
    that share a ``tzinfo`` by wall clock, which is wrong in a repeated DST hour).
    """

    start: datetime
    end: datetime

    def _instants(self) -> tuple[float, float]:
        return (self.start.timestamp(), self.end.timestamp())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TimeWindow) and self._instants() == other._instants()

    def __hash__(self) -> int:
        return hash(self._instants())

    @property
    def duration(self) -> timedelta:
        """Elapsed (absolute) time, e.g. 23 hours for a spring-forward day."""
        return self.end.astimezone(UTC) - self.start.astimezone(UTC)


# --- keys <-> wall-clock times ---------------------------------------------------


def _format_wall(wall: datetime, fmt: str) -> str:
    if fmt == DAY_FMT:
        return f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}"
    if fmt == HOUR_FMT:
        return f"{wall.year:04d}-{wall.month:02d}-{wall.day:02d}-{wall.hour:02d}:{wall.minute:02d}"
    return wall.strftime(fmt)


def _parse_wall(key: str, fmt: str) -> datetime | None:
    """The naive wall-clock time ``key`` names, or None when it does not match ``fmt``."""
    try:
        if fmt == DAY_FMT and len(key) == 10 and key[4] == "-" and key[7] == "-":
            return datetime(int(key[0:4]), int(key[5:7]), int(key[8:10]))
        if fmt == HOUR_FMT and len(key) == 16 and key[10] == "-" and key[13] == ":":
            return datetime(
                int(key[0:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]), int(key[14:16])
            )
        return datetime.strptime(key, fmt)
    except ValueError:
        return None


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _split_offset_suffix(key: str) -> tuple[str, str | None]:
    if len(key) > 6 and key[-6] in "+-" and key[-3] == ":" and key[-5:-3].isdigit():
        return key[:-6], key[-6:]
    return key, None


# --- tick sequences ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Cadence:
    """A cron shape whose ticks can be computed by arithmetic on the wall clock."""

    unit: str  # "hour", "day", "week" or "month"
    minute: int
    hour: int = 0
    weekday: int = 0  # cron numbering: 0 = Sunday
    day: int = 1


def _cadence_of(cron: str) -> _Cadence | None:
    minute, hour, dom, month, dow = cron.split(" ")
    if not minute.isdigit() or month != "*":
        return None
    m = int(minute)
    if hour == "*" and dom == "*" and dow == "*":
        return _Cadence("hour", m)
    if not hour.isdigit():
        return None
    h = int(hour)
    if dom == "*" and dow == "*":
        return _Cadence("day", m, h)
    if dom == "*" and dow.isdigit():
        return _Cadence("week", m, h, weekday=int(dow) % 7)
    if dow == "*" and dom.isdigit() and 1 <= int(dom) <= 28:
        return _Cadence("month", m, h, day=int(dom))
    return None


class _ArithmeticTicks:
    """Ticks of a regular cadence: nominal wall times by arithmetic, one instant each."""

    def __init__(self, cadence: _Cadence, tz: tzinfo, start: datetime) -> None:
        self.cadence = cadence
        self.tz = tz
        self.fixed = isinstance(tz, fixed_offset)
        step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}
        self.step = step.get(cadence.unit)
        self.anchor = self._provisional_anchor(start.astimezone(tz).replace(tzinfo=None))
        first = self.floor_index(start)
        if self.instant(first) < start:
            first += 1
        self.anchor = self.wall(first)

    def _provisional_anchor(self, wall: datetime) -> datetime:
        c = self.cadence
        if c.unit == "hour":
            return wall.replace(minute=c.minute, second=0, microsecond=0)
        if c.unit == "day":
            return datetime.combine(wall.date(), time(c.hour, c.minute))
        if c.unit == "week":
            back = (wall.isoweekday() - c.weekday) % 7  # isoweekday: Sunday = 7 = 0 (mod 7)
            return datetime.combine(wall.date() - timedelta(days=back), time(c.hour, c.minute))
        return datetime(wall.year, wall.month, c.day, c.hour, c.minute)

    def wall(self, index: int) -> datetime:
        """The nominal wall-clock time of tick ``index``."""
        if self.step is not None:
            return self.anchor + index * self.step
        months = self.anchor.month - 1 + index
        years, month = divmod(months, 12)
        return self.anchor.replace(year=self.anchor.year + years, month=month + 1)

    def is_repeat(self, index: int) -> bool:
        return False

    def instant(self, index: int) -> datetime:
        wall = self.wall(index)
        if self.fixed:
            return wall.replace(tzinfo=self.tz).astimezone(UTC)
        return wall_time_instants(wall, self.tz, every_occurrence=False)[0]

    def _wall_floor(self, wall: datetime) -> int:
        if self.step is not None:
            return (wall - self.anchor) // self.step
        months = (wall.year - self.anchor.year) * 12 + wall.month - self.anchor.month
        return months - 1 if wall < self.wall(months) else months

    def floor_index(self, moment: datetime) -> int:
        """The largest index whose tick is at or before ``moment`` (may be negative)."""
        index = self._wall_floor(moment.astimezone(self.tz).replace(tzinfo=None))
        if self.fixed:
            return index
        while self.instant(index + 1) <= moment:
            index += 1
        while self.instant(index) > moment:
            index -= 1
        return index

    def candidate_indices(self, wall: datetime, offset_suffix: str | None) -> tuple[int, ...]:
        """Indices whose key may name ``wall``: the tick at or just after it."""
        if offset_suffix is not None:
            return ()
        index = self._wall_floor(wall)
        return (index, index + 1)


class _ListTicks:
    """Ticks of any cron, walked with croniter once and kept (both directions, lazily)."""

    _CHUNK = 2048

    def __init__(self, cron: str, tz_name: str, tz: tzinfo, start: datetime) -> None:
        self.cron, self.tz_name, self.tz = cron, tz_name, tz
        self._lock = threading.Lock()  # shared across definitions and threads
        self.forward: list[datetime] = []
        self.forward_ts: list[float] = []
        self.backward: list[datetime] = []  # index -1, -2, ...
        self.backward_ts: list[float] = []  # negated, so it is ascending
        self._fwd = cron_ticks(cron, start=start, timezone=tz_name)
        self._bwd = cron_ticks(
            cron, start=start, timezone=tz_name, inclusive=False, ascending=False
        )

    def _extend_forward(self) -> None:
        with self._lock:
            ticks = [next(self._fwd).astimezone(UTC) for _ in range(self._CHUNK)]
            self.forward_ts.extend(t.timestamp() for t in ticks)
            self.forward.extend(ticks)

    def _extend_backward(self) -> None:
        with self._lock:
            ticks = [next(self._bwd).astimezone(UTC) for _ in range(self._CHUNK)]
            self.backward_ts.extend(-t.timestamp() for t in ticks)
            self.backward.extend(ticks)

    def instant(self, index: int) -> datetime:
        if index >= 0:
            while index >= len(self.forward):
                self._extend_forward()
            return self.forward[index]
        while -index - 1 >= len(self.backward):
            self._extend_backward()
        return self.backward[-index - 1]

    def wall(self, index: int) -> datetime:
        return self.instant(index).astimezone(self.tz).replace(tzinfo=None, fold=0)

    def is_repeat(self, index: int) -> bool:
        local = self.instant(index).astimezone(self.tz)
        return local.fold == 1 and local.utcoffset() != local.replace(fold=0).utcoffset()

    def floor_index(self, moment: datetime) -> int:
        ts = moment.timestamp()
        if not self.forward:
            self._extend_forward()
        if ts >= self.forward_ts[0]:
            while self.forward_ts[-1] <= ts:
                self._extend_forward()
            return bisect.bisect_right(self.forward_ts, ts) - 1
        if not self.backward:
            self._extend_backward()
        while -self.backward_ts[-1] > ts:
            self._extend_backward()
        # backward_ts holds -t ascending; the first tick at or before ts is the first
        # entry with -t >= -ts.
        return -(bisect.bisect_left(self.backward_ts, -ts) + 1)

    def candidate_indices(self, wall: datetime, offset_suffix: str | None) -> tuple[int, ...]:
        """Indices whose key may name ``wall``: the ticks at or just after it."""
        found: list[int] = []
        for candidate in (wall.replace(tzinfo=self.tz, fold=f) for f in (0, 1)):
            if offset_suffix is not None:
                offset = candidate.utcoffset()
                if offset is None or _format_offset(offset) != offset_suffix:
                    continue
            index = self.floor_index(candidate.astimezone(UTC))
            found.extend((index, index + 1))
        return tuple(dict.fromkeys(found))


@lru_cache(maxsize=512)
def _ticks_for(cron: str, tz_name: str, start: datetime) -> _ArithmeticTicks | _ListTicks:
    """Shared per (cron, zone, start): equal definitions reuse one tick sequence."""
    tz = get_timezone(tz_name)
    cadence = _cadence_of(cron)
    if cadence is not None and (cadence.unit != "hour" or isinstance(tz, fixed_offset)):
        return _ArithmeticTicks(cadence, tz, start)
    return _ListTicks(cron, tz_name, tz, start)


@lru_cache(maxsize=512)
def _key_caches_for(
    cron: str, fmt: str, tz_name: str, start: datetime, end: datetime | None
) -> tuple[dict[str, int | None], list[str], threading.Lock]:
    """(key -> index cache, keys of indices 0..n-1 filled on demand, lock for the list)."""
    return {}, [], threading.Lock()


# --- the definition ---------------------------------------------------------------


def _to_instant(value: str | date | datetime, fmt: str, tz: tzinfo, *, what: str) -> datetime:
    if isinstance(value, str):
        parsed = _parse_wall(value, fmt)
        if parsed is None:
            try:
                parsed = datetime.fromisoformat(value)
            except ValueError:
                raise InvalidPartitionsDefinition(
                    f"cannot read {what} {value!r}: use the partition format {fmt!r} "
                    "or an ISO date such as '2024-01-01'"
                ) from None
        value = parsed
    elif not isinstance(value, datetime):
        if not isinstance(value, date):
            raise InvalidPartitionsDefinition(
                f"{what} must be a string, date or datetime, got {value!r}"
            )
        value = datetime.combine(value, time())
    if value.tzinfo is None:
        return wall_time_instants(value, tz, every_occurrence=False)[0]
    return value.astimezone(UTC)


class TimeWindowPartitionsDefinition(PartitionsDefinition):
    """Partitions that each cover one interval between consecutive cron ticks.

    ``end`` (exclusive) stops the set: only windows that end at or before it exist.
    Otherwise the set grows with time: at ``current_time`` it holds every window that
    has ended, plus ``end_offset`` more (1 includes the window in progress; negative
    values hold back recent windows).
    """

    _kind = "time-window"

    def __init__(
        self,
        cron_schedule: str,
        fmt: str,
        start: str | date | datetime,
        end: str | date | datetime | None = None,
        timezone: str = "UTC",
        end_offset: int = 0,
    ) -> None:
        self.cron_schedule = validate_cron_schedule(cron_schedule)
        self.timezone = timezone or "UTC"
        self.tz = get_timezone(self.timezone)
        if not isinstance(fmt, str) or not fmt:
            raise InvalidPartitionsDefinition(f"fmt must be a strftime format, got {fmt!r}")
        self.fmt = fmt
        if not isinstance(end_offset, int) or isinstance(end_offset, bool):
            raise InvalidPartitionsDefinition(f"end_offset must be an int, got {end_offset!r}")
        self.end_offset = end_offset
        self.start = _to_instant(start, fmt, self.tz, what="start")
        self.end = None if end is None else _to_instant(end, fmt, self.tz, what="end")
        if self.end is not None and self.end <= self.start:
            raise InvalidPartitionsDefinition(
                f"end {self.end.astimezone(self.tz).isoformat()} is not after start "
                f"{self.start.astimezone(self.tz).isoformat()}"
            )
        self._init_caches()

    def _init_caches(self) -> None:
        self._ticks = _ticks_for(self.cron_schedule, self.timezone, self.start)
        self._num_before_end = (
            None if self.end is None else max(0, self._ticks.floor_index(self.end))
        )
        shared = _key_caches_for(self.cron_schedule, self.fmt, self.timezone, self.start, self.end)
        # Shared by equal definitions, so 10,000 assets on one daily scheme format
        # and parse each key once.
        self._key_cache, self._keys, self._keys_lock = shared

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the arguments only; tick sequences and caches are rebuilt on load."""
        skip = {"_ticks", "_num_before_end", "_key_cache", "_keys", "_keys_lock", "tz"}
        return {k: v for k, v in self.__dict__.items() if k not in skip}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.tz = get_timezone(self.timezone)
        self._init_caches()

    # -- identity --

    def _params(self) -> tuple[Any, ...]:
        return (self.cron_schedule, self.fmt, self.start, self.end, self.timezone, self.end_offset)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, TimeWindowPartitionsDefinition) and other._params() == self._params()
        )

    def __hash__(self) -> int:
        return hash(self._params())

    def to_snapshot(self) -> dict[str, Any]:
        return {
            "type": "time_window",
            "cron_schedule": self.cron_schedule,
            "fmt": self.fmt,
            "start": self.start.isoformat(),
            "end": None if self.end is None else self.end.isoformat(),
            "timezone": self.timezone,
            "end_offset": self.end_offset,
        }

    def describe(self) -> str:
        start = _format_wall(self.start.astimezone(self.tz), self.fmt)
        return f"{self._kind} partitions ({self.cron_schedule!r}) from {start} in {self.timezone}"

    # -- indices, keys and windows --

    def get_partition_key_for_index(self, index: int) -> str:
        """The key of partition ``index`` (0 is the first partition)."""
        if 0 <= index < len(self._keys):
            return self._keys[index]
        return self._format_key(index)

    def get_partition_keys_between(self, start: int, stop: int) -> list[str]:
        """Keys of indices ``start`` (included) to ``stop`` (excluded), from a shared cache."""
        start = max(start, 0)
        if stop > len(self._keys):
            with self._keys_lock:
                missing = [self._format_key(i) for i in range(len(self._keys), stop)]
                self._keys.extend(missing)
        return self._keys[start:stop]

    def _format_key(self, index: int) -> str:
        key = _format_wall(self._ticks.wall(index), self.fmt)
        if self._ticks.is_repeat(index):
            offset = self._ticks.instant(index).astimezone(self.tz).utcoffset()
            assert offset is not None
            key += _format_offset(offset)
        return key

    def get_index_for_partition_key_or_none(self, partition_key: str) -> int | None:
        """The index of ``partition_key``, or None when it names no partition."""
        cached = self._key_cache.get(partition_key, -1)
        if cached != -1:
            return cached
        index = self._compute_index(partition_key)
        if len(self._key_cache) < 200_000:
            self._key_cache[partition_key] = index
        return index

    def _compute_index(self, partition_key: str) -> int | None:
        if not isinstance(partition_key, str):
            return None
        base, suffix = partition_key, None
        wall = _parse_wall(partition_key, self.fmt)
        if wall is None:
            base, suffix = _split_offset_suffix(partition_key)
            wall = _parse_wall(base, self.fmt) if suffix else None
            if wall is None:
                return None
        # The key names a wall time that is the tick itself, or (when ``fmt`` drops the
        # time of day, e.g. daily at 02:30 keyed by date) falls just before it.
        for index in self._ticks.candidate_indices(wall, suffix):
            if index < 0:
                continue
            if self._num_before_end is not None and index >= self._num_before_end:
                continue
            if self.get_partition_key_for_index(index) == partition_key:
                return index
        return None

    def get_index_for_partition_key(self, partition_key: str) -> int:
        """The index of ``partition_key``; raises :class:`UnknownPartitionKey`."""
        index = self.get_index_for_partition_key_or_none(partition_key)
        if index is None:
            raise UnknownPartitionKey(
                partition_key,
                self.describe(),
                hint=f"keys look like {self.get_partition_key_for_index(0)!r}",
            )
        return index

    def time_window_for_index(self, index: int) -> TimeWindow:
        """The window partition ``index`` covers."""
        return TimeWindow(
            self._ticks.instant(index).astimezone(self.tz),
            self._ticks.instant(index + 1).astimezone(self.tz),
        )

    def time_window_for_partition_key(self, partition_key: str) -> TimeWindow:
        """The window ``partition_key`` covers, e.g. for ``context.partition_time_window``."""
        return self.time_window_for_index(self.get_index_for_partition_key(partition_key))

    def time_window_for_partition_keys(self, partition_keys: Iterable[str]) -> TimeWindow | None:
        """The span from the earliest to the latest of ``partition_keys`` (None: no keys)."""
        indices = [self.get_index_for_partition_key(k) for k in partition_keys]
        if not indices:
            return None
        return TimeWindow(
            self.time_window_for_index(min(indices)).start,
            self.time_window_for_index(max(indices)).end,
        )

    def get_partition_key_for_time(self, moment: datetime) -> str | None:
        """The key of the partition whose window contains ``moment`` (None before start)."""
        index = self._ticks.floor_index(resolve_current_time(moment))
        if index < 0 or (self._num_before_end is not None and index >= self._num_before_end):
            return None
        return self.get_partition_key_for_index(index)

    def floor_index(self, moment: datetime) -> int:
        """Index of the window containing ``moment``; negative before the first partition."""
        return self._ticks.floor_index(resolve_current_time(moment))

    def tick(self, index: int) -> datetime:
        """The start of window ``index`` (any integer, also before start), in UTC."""
        return self._ticks.instant(index)

    def index_range_overlapping(self, start: datetime, end: datetime) -> IndexRange:
        """Half-open indices of the windows that overlap ``[start, end)`` (unclamped)."""
        start, end = resolve_current_time(start), resolve_current_time(end)
        if end <= start:
            return (0, 0)
        first = self._ticks.floor_index(start)
        last = self._ticks.floor_index(end)
        if self._ticks.instant(last) == end:
            last -= 1
        return (first, last + 1)

    # -- the set as of a time --

    def get_num_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> int:
        now = resolve_current_time(current_time)
        count = max(0, max(0, self._ticks.floor_index(now)) + self.end_offset)
        if self._num_before_end is not None:
            count = min(count, self._num_before_end)
        return count

    def get_partition_keys(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> list[str]:
        return self.get_partition_keys_between(0, self.get_num_partitions(current_time))

    def has_partition_key(
        self,
        partition_key: str,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> bool:
        index = self.get_index_for_partition_key_or_none(partition_key)
        return index is not None and index < self.get_num_partitions(current_time)

    def get_first_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        return (
            self.get_partition_key_for_index(0) if self.get_num_partitions(current_time) else None
        )

    def get_last_partition_key(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> str | None:
        count = self.get_num_partitions(current_time)
        return self.get_partition_key_for_index(count - 1) if count else None

    def get_partition_keys_in_range(self, key_range: PartitionKeyRange) -> list[str]:
        """Keys from ``key_range.start`` to ``key_range.end`` inclusive."""
        start, end = self._index_range_of(key_range)
        return self.get_partition_keys_between(start, end)

    def _index_range_of(self, key_range: PartitionKeyRange) -> IndexRange:
        start = self.get_index_for_partition_key(key_range.start)
        end = self.get_index_for_partition_key(key_range.end)
        if end < start:
            raise InvalidPartitionsDefinition(
                f"partition range {key_range.start!r}..{key_range.end!r} ends before it starts"
            )
        return (start, end + 1)

    # -- subsets --

    def empty_subset(self) -> TimeWindowPartitionsSubset:
        return TimeWindowPartitionsSubset(self)

    def subset_with_partition_keys(
        self, partition_keys: Iterable[str]
    ) -> TimeWindowPartitionsSubset:
        indices = sorted({self.get_index_for_partition_key(k) for k in partition_keys})
        return TimeWindowPartitionsSubset(self, _runs_of(indices))

    def subset_with_index_ranges(self, ranges: Iterable[IndexRange]) -> TimeWindowPartitionsSubset:
        """A subset from half-open index ranges, clipped to valid indices."""
        upper = self._num_before_end
        clipped = ((max(0, s), e if upper is None else min(e, upper)) for s, e in ranges)
        return TimeWindowPartitionsSubset(self, clipped)

    def subset_with_key_range(self, key_range: PartitionKeyRange) -> TimeWindowPartitionsSubset:
        """The partitions from ``key_range.start`` to ``key_range.end`` inclusive."""
        return TimeWindowPartitionsSubset(self, [self._index_range_of(key_range)])

    def subset_with_all_partitions(
        self,
        current_time: datetime | None = None,
        dynamic_partitions_store: DynamicPartitionsStore | None = None,
    ) -> TimeWindowPartitionsSubset:
        return TimeWindowPartitionsSubset(self, [(0, self.get_num_partitions(current_time))])

    def subset_from_serializable(self, data: Any) -> TimeWindowPartitionsSubset:
        if not isinstance(data, dict) or data.get("type") != "time_window":
            raise InvalidPartitionsDefinition(f"not a serialized time-window subset: {data!r}")
        return TimeWindowPartitionsSubset(
            self, [self._index_range_of(PartitionKeyRange(s, e)) for s, e in data["ranges"]]
        )


def _runs_of(sorted_indices: Sequence[int]) -> list[IndexRange]:
    runs: list[IndexRange] = []
    for index in sorted_indices:
        if runs and runs[-1][1] == index:
            runs[-1] = (runs[-1][0], index + 1)
        else:
            runs.append((index, index + 1))
    return runs


class HourlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per hour; keys like ``"2024-01-15-13:00"``."""

    _kind = "hourly"

    def __init__(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime | None = None,
        minute_offset: int = 0,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            cron_schedule=f"{minute_offset} * * * *",
            fmt=fmt or HOUR_FMT,
            start=start_date,
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
        )


class DailyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per day; keys like ``"2024-01-15"``."""

    _kind = "daily"

    def __init__(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            cron_schedule=f"{minute_offset} {hour_offset} * * *",
            fmt=fmt or DAY_FMT,
            start=start_date,
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
        )


class WeeklyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per week starting on ``day_offset`` (0 = Sunday); keyed by its first day."""

    _kind = "weekly"

    def __init__(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 0,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        super().__init__(
            cron_schedule=f"{minute_offset} {hour_offset} * * {day_offset}",
            fmt=fmt or DAY_FMT,
            start=start_date,
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
        )


class MonthlyPartitionsDefinition(TimeWindowPartitionsDefinition):
    """One partition per month starting on ``day_offset`` (1-28); keyed by its first day."""

    _kind = "monthly"

    def __init__(
        self,
        start_date: str | date | datetime,
        end_date: str | date | datetime | None = None,
        minute_offset: int = 0,
        hour_offset: int = 0,
        day_offset: int = 1,
        timezone: str = "UTC",
        fmt: str | None = None,
        end_offset: int = 0,
    ) -> None:
        if not 1 <= day_offset <= 28:
            raise InvalidPartitionsDefinition(
                f"day_offset must be between 1 and 28 so every month has it, got {day_offset}"
            )
        super().__init__(
            cron_schedule=f"{minute_offset} {hour_offset} {day_offset} * *",
            fmt=fmt or DAY_FMT,
            start=start_date,
            end=end_date,
            timezone=timezone,
            end_offset=end_offset,
        )
