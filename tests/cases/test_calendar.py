"""Working-day deadlines: weekends, the Spring Festival, 调休 working days, Beijing midnight."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy.orm import Session

from tests.cases.conftest import Clock, World
from yuqing.cases import service
from yuqing.cases.calendar import add_hours, add_working_days, is_working_day

BEIJING = ZoneInfo("Asia/Shanghai")


def utc(text: str) -> datetime:
    """A Beijing wall time as the naive UTC the database stores."""
    local = datetime.fromisoformat(text).replace(tzinfo=BEIJING)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


@pytest.mark.parametrize(
    ("start", "days", "due"),
    [
        # An ordinary week: Friday + 1 skips the weekend, + 3 is Wednesday.
        ("2024-03-08 10:00", 1, "2024-03-11 10:00"),
        ("2024-03-08 10:00", 3, "2024-03-13 10:00"),
        ("2024-03-06 16:45", 0, "2024-03-06 16:45"),
        # Reported on Saturday: the clock starts Monday 00:00, so one working day is all Monday.
        ("2024-03-09 15:00", 1, "2024-03-12 00:00"),
        # Spring Festival 2024: 10–17 February off, Sunday 18 February a make-up working day.
        ("2024-02-08 10:00", 2, "2024-02-18 10:00"),
        ("2024-02-08 10:00", 3, "2024-02-19 10:00"),
        ("2024-02-11 09:00", 1, "2024-02-19 00:00"),
        # National Day 2024: Saturday 12 October is a 调休 working day; 1–7 October are off.
        ("2024-10-11 10:00", 1, "2024-10-12 10:00"),
        ("2024-09-30 10:00", 1, "2024-10-08 10:00"),
        # A half day is 12 hours after the whole days.
        ("2024-03-08 08:00", 1.5, "2024-03-11 20:00"),
    ],
)
def test_add_working_days(start: str, days: float, due: str) -> None:
    assert add_working_days(utc(start), days) == utc(due)


def test_the_day_is_the_beijing_day_not_the_utc_day() -> None:
    # Saturday 01:30 in Beijing is still Friday 17:30 in UTC: the Beijing day decides.
    saturday_night = datetime(2024, 3, 8, 17, 30)
    assert add_working_days(saturday_night, 1) == utc("2024-03-12 00:00")
    # Friday 23:30 in Beijing (15:30 UTC) + 1: Monday 23:30 in Beijing.
    assert add_working_days(datetime(2024, 3, 8, 15, 30), 1) == utc("2024-03-11 23:30")
    # The same instant counted in UTC would skip nothing on Friday.
    assert add_working_days(saturday_night, 1, zone="UTC") == datetime(2024, 3, 11, 17, 30)


def test_closures_and_years_without_official_data() -> None:
    closed = {date(2024, 3, 11)}  # the institution's own closure on a Monday
    assert add_working_days(utc("2024-03-08 10:00"), 1, closures=closed) == utc("2024-03-12 10:00")
    assert not is_working_day(date(2024, 3, 11), closed)
    assert is_working_day(date(2024, 2, 18)) and not is_working_day(date(2024, 2, 12))
    # No official data that far ahead: Monday to Friday.
    assert add_working_days(utc("2031-01-03 10:00"), 1) == utc("2031-01-06 10:00")
    with pytest.raises(ValueError):
        add_working_days(utc("2024-03-08 10:00"), -1)
    # Hours are plain hours, holidays included.
    assert add_hours(utc("2024-02-09 20:00"), 5) == utc("2024-02-10 01:00")


def test_closure_days_move_a_case_deadline(session: Session, world: World, clock: Clock) -> None:
    clock.now = utc("2024-03-08 10:00")  # Friday
    service.set_closure(session, principal=world.office, day=date(2024, 3, 12), reason="校运会")
    case = service.open_case(session, principal=world.office, title="一般舆情")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    closure = {v.clock: v for v in service.timers_of(session, case)}["closure"]
    # Mon 11, (Tue 12 closed), Wed 13, Thu 14: three working days.
    assert closure.due_at == utc("2024-03-14 10:00")
    assert closure.due_at - closure.started_at > timedelta(days=5)
