"""Working-day arithmetic on the official Chinese calendar (holidays and 调休) plus closures.

Rule for a deadline of N working days: take the start in the institution's zone; if that day
is not a working day, the start moves to 00:00 of the next working day. The deadline is the
same clock time on the N-th working day after the start's day, skipping weekends, official
holidays and the institution's closures, and counting the official make-up working days
(调休, e.g. a working Saturday). "3 working days" from Friday 10:00 is Wednesday 10:00 of
an ordinary week. A fractional part adds that share of 24 hours after the whole days. Years
the package has no data for fall back to Monday–Friday.
"""

from __future__ import annotations

import math
from collections.abc import Set
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import chinese_calendar


@lru_cache(maxsize=4096)
def _official_workday(day: date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # no official data for that year
        return day.weekday() < 5


def is_working_day(day: date, closures: Set[date] = frozenset()) -> bool:
    """A working day: official working day (调休 included) and not a closure."""
    return day not in closures and _official_workday(day)


def next_working_day(day: date, closures: Set[date] = frozenset()) -> date:
    """The first working day after ``day``."""
    day += timedelta(days=1)
    while not is_working_day(day, closures):
        day += timedelta(days=1)
    return day


def add_working_days(
    start: datetime,
    days: float,
    *,
    zone: str = "Asia/Shanghai",
    closures: Set[date] = frozenset(),
) -> datetime:
    """``start`` (naive UTC) plus ``days`` working days, as naive UTC (see the module rule)."""
    if days < 0:
        raise ValueError("days must not be negative")
    tz = ZoneInfo(zone)
    local = start.replace(tzinfo=UTC).astimezone(tz)
    day, clock = local.date(), local.timetz().replace(tzinfo=None)
    if not is_working_day(day, closures):
        day, clock = next_working_day(day, closures), time(0, 0)
    whole = math.floor(days)
    for _ in range(whole):
        day = next_working_day(day, closures)
    due = datetime.combine(day, clock, tzinfo=tz) + timedelta(hours=(days - whole) * 24)
    return due.astimezone(UTC).replace(tzinfo=None)


def add_hours(start: datetime, hours: float) -> datetime:
    """Plain hours, nights and holidays included (serious incidents do not wait)."""
    return start + timedelta(hours=hours)


def working_days_between(first: date, last: date, closures: Set[date] = frozenset()) -> int:
    """Working days in ``first`` … ``last`` inclusive (for reports)."""
    count, day = 0, first
    while day <= last:
        count += is_working_day(day, closures)
        day += timedelta(days=1)
    return count
