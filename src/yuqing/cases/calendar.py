"""Working-day arithmetic on the official calendar (holidays and 调休) plus closures.

Rule for a deadline of N working days: take the start in the institution's zone; if that day
is not a working day, the start moves to 00:00 of the next working day. The deadline is the
same clock time on the N-th working day after the start's day, skipping weekends, official
holidays and the institution's closures, and counting the official make-up working days
(调休, e.g. a working Saturday). "3 working days" from Friday 10:00 is Wednesday 10:00 of
an ordinary week. A fractional part adds that share of 24 hours after the whole days.

The official days come from a ``WorkCalendar``: on the desk the one the office keeps in the
database (``load``), elsewhere the years the seeding package knows (``package_calendar``). A
year the calendar has no data for counts Monday to Friday, and the deadline says so: every
deadline comes with the ``Basis`` it was counted on, which the case page shows.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Set
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from types import MappingProxyType
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.cases.models import CalendarDay, CalendarYear

FALLBACK_RULE = "无官方数据，按周一至周五计算"


@dataclass(frozen=True)
class WorkCalendar:
    """The official schedule: for each listed day whether it is a make-up working day (班,
    ``True``) or a day off (休, ``False``), and the years it holds official data for."""

    days: Mapping[date, bool]
    years: frozenset[int]

    def is_working_day(self, day: date, closures: Set[date] = frozenset()) -> bool:
        if day in closures:
            return False
        official = self.days.get(day)
        return official if official is not None else day.weekday() < 5

    def knows(self, year: int) -> bool:
        return year in self.years


EMPTY = WorkCalendar(MappingProxyType({}), frozenset())


@dataclass(frozen=True)
class Basis:
    """Which rule a deadline was counted on: the years it crossed with official data, and
    those without (counted Monday to Friday)."""

    official: tuple[int, ...] = ()
    fallback: tuple[int, ...] = ()

    @property
    def guessed(self) -> bool:
        return bool(self.fallback)

    def encode(self) -> str:
        def years(values: tuple[int, ...]) -> str:
            return ",".join(str(y) for y in values)

        return f"official={years(self.official)};fallback={years(self.fallback)}"

    @classmethod
    def decode(cls, text: str | None) -> Basis | None:
        """The basis stored on a timer; ``None`` for an hour clock or an unreadable value."""
        if not text:
            return None
        try:
            parts = dict(part.split("=", 1) for part in text.split(";"))
            official, fallback = (
                tuple(int(y) for y in parts[key].split(",") if y)
                for key in ("official", "fallback")
            )
        except (KeyError, ValueError):
            return None
        return cls(official, fallback)

    @property
    def label(self) -> str:
        """The rule in the desk's words, e.g. "2027 年无官方数据，按周一至周五计算"."""
        said = []
        if self.official:
            said.append(f"按 {_years(self.official)} 年官方节假日安排（含调休）计算")
        if self.fallback:
            said.append(f"{_years(self.fallback)} 年{FALLBACK_RULE}")
        return "；".join(said)


def _years(years: tuple[int, ...]) -> str:
    return "、".join(str(y) for y in years)


def basis(workdays: WorkCalendar, first: date, last: date) -> Basis:
    """The rule used for a count that ran from ``first`` to ``last`` (inclusive)."""
    years = range(first.year, max(first.year, last.year) + 1)
    return Basis(
        official=tuple(y for y in years if workdays.knows(y)),
        fallback=tuple(y for y in years if not workdays.knows(y)),
    )


@lru_cache(maxsize=1)
def package_calendar() -> WorkCalendar:
    """The years the seeding package ships official data for (no database): what a caller
    without the office's calendar counts on."""
    from yuqing.cases import schedule  # the package is loaded only when asked for

    days = schedule.package_days()
    return WorkCalendar(
        MappingProxyType({d.day: d.working for d in days}), frozenset(d.day.year for d in days)
    )


# --- the office's calendar, cached per process ------------------------------------------

_cache: tuple[tuple[tuple[int, int, datetime], ...], WorkCalendar] | None = None
_cache_lock = threading.Lock()


def load(session: Session) -> WorkCalendar:
    """The calendar stored in the database. Kept per process and read again when a year's
    revision changes, so an edit in the desk reaches the worker on its next deadline."""
    global _cache
    stamp = tuple(
        (y, r, at)
        for y, r, at in session.execute(
            select(CalendarYear.year, CalendarYear.revision, CalendarYear.updated_at).order_by(
                CalendarYear.year
            )
        )
    )
    cached = _cache
    if cached is not None and cached[0] == stamp:
        return cached[1]
    rows = session.execute(select(CalendarDay.date, CalendarDay.working))
    workdays = WorkCalendar(
        MappingProxyType(dict(rows.all())), frozenset(year for year, _, _ in stamp)
    )
    with _cache_lock:
        _cache = (stamp, workdays)
    return workdays


def invalidate() -> None:
    """Forget the cached calendar (after an edit in this process)."""
    global _cache
    with _cache_lock:
        _cache = None


# --- arithmetic -----------------------------------------------------------------------


def _calendar(workdays: WorkCalendar | None) -> WorkCalendar:
    return package_calendar() if workdays is None else workdays


def is_working_day(
    day: date, closures: Set[date] = frozenset(), *, workdays: WorkCalendar | None = None
) -> bool:
    """A working day: official working day (调休 included) and not a closure."""
    return _calendar(workdays).is_working_day(day, closures)


def next_working_day(
    day: date, closures: Set[date] = frozenset(), *, workdays: WorkCalendar | None = None
) -> date:
    """The first working day after ``day``."""
    found = _calendar(workdays)
    day += timedelta(days=1)
    while not found.is_working_day(day, closures):
        day += timedelta(days=1)
    return day


def deadline(
    start: datetime,
    days: float,
    *,
    zone: str = "Asia/Shanghai",
    closures: Set[date] = frozenset(),
    workdays: WorkCalendar | None = None,
) -> tuple[datetime, Basis]:
    """``start`` (naive UTC) plus ``days`` working days, as naive UTC, with the rule used."""
    if days < 0:
        raise ValueError("days must not be negative")
    found = _calendar(workdays)
    tz = ZoneInfo(zone)
    local = start.replace(tzinfo=UTC).astimezone(tz)
    first = day = local.date()
    clock = local.timetz().replace(tzinfo=None)
    if not found.is_working_day(day, closures):
        day, clock = next_working_day(day, closures, workdays=found), time(0, 0)
    whole = math.floor(days)
    for _ in range(whole):
        day = next_working_day(day, closures, workdays=found)
    due = datetime.combine(day, clock, tzinfo=tz) + timedelta(hours=(days - whole) * 24)
    return due.astimezone(UTC).replace(tzinfo=None), basis(found, first, due.date())


def add_working_days(
    start: datetime,
    days: float,
    *,
    zone: str = "Asia/Shanghai",
    closures: Set[date] = frozenset(),
    workdays: WorkCalendar | None = None,
) -> datetime:
    """``start`` (naive UTC) plus ``days`` working days, as naive UTC (see the module rule)."""
    return deadline(start, days, zone=zone, closures=closures, workdays=workdays)[0]


def add_hours(start: datetime, hours: float) -> datetime:
    """Plain hours, nights and holidays included (serious incidents do not wait)."""
    return start + timedelta(hours=hours)


def working_days_between(
    first: date,
    last: date,
    closures: Set[date] = frozenset(),
    *,
    workdays: WorkCalendar | None = None,
) -> int:
    """Working days in ``first`` … ``last`` inclusive (for reports)."""
    found = _calendar(workdays)
    count, day = 0, first
    while day <= last:
        count += found.is_working_day(day, closures)
        day += timedelta(days=1)
    return count


HOURS_RULE = "hours"  # what an hour clock stores as its rule


def rule_label(code: str | None) -> str:
    """A timer's stored rule in the desk's words ("" for a timer counted before rules were
    stored)."""
    if code == HOURS_RULE:
        return "按自然小时计算，节假日照常计时"
    found = Basis.decode(code)
    return found.label if found else ""


def rule_guessed(code: str | None) -> bool:
    """Whether the timer crossed a year without official data."""
    found = Basis.decode(code)
    return found is not None and found.guessed
