"""Working-day deadlines: weekends, the Spring Festival, 调休 working days, Beijing midnight."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.cases.conftest import Clock, World
from yuqing.auth.schemas import Principal
from yuqing.cases import calendar, calendar_service, schedule, service
from yuqing.cases.calendar import add_hours, add_working_days, is_working_day
from yuqing.cases.models import CalendarDay
from yuqing.cases.schemas import CasePermissionError, ClockIn
from yuqing.core.audit import AuditEntry

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
    service.update_closure(session, principal=world.office, day=date(2024, 3, 12), reason="校运会")
    case = service.open_case(session, principal=world.office, title="一般舆情")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    closure = {v.clock: v for v in service.list_timers(session, case=case)}["closure"]
    # Mon 11, (Tue 12 closed), Wed 13, Thu 14: three working days.
    assert closure.due_at == utc("2024-03-14 10:00")
    assert closure.due_at - closure.started_at > timedelta(days=5)


# --- the office's calendar: 2027 and years without official data ----------------------

# A hand-entered schedule for the Spring Festival 2027 (the State Council notice was not out
# when the packages were released): Friday 5 to Friday 12 February off, Saturday 13 February
# a make-up working day.
NOTICE_2027 = """\
# 国务院办公厅关于2027年部分节假日安排的通知（手工录入）
2027-01-01 休 元旦
2027-02-05~2027-02-12 休 春节
2027-02-13 班 春节调休
"""


def import_2027(session: Session, by: Principal) -> calendar_service.ImportResult:
    result = calendar_service.import_text(
        session, by=by, data=NOTICE_2027.encode(), filename="2027.txt"
    )
    session.flush()
    return result


def test_the_packages_know_no_2027_and_the_old_code_guessed() -> None:
    # The seeding package ships official years up to 2026; 2027 is not among them (its lunar
    # estimate is left out), so without the office's entries 2027 counts Monday to Friday.
    assert 2026 in calendar.package_calendar().years
    assert 2027 not in calendar.package_calendar().years
    due, basis = calendar.deadline(utc("2027-02-04 10:00"), 1)
    assert due == utc("2027-02-05 10:00")  # Friday, the first day of the holiday
    assert basis.guessed and basis.label == "2027 年无官方数据，按周一至周五计算"


def test_spring_festival_2027_hand_entered_gives_the_right_deadline() -> None:
    parsed = schedule.parse(NOTICE_2027)
    workdays = calendar.WorkCalendar({d.day: d.working for d in parsed.days}, frozenset({2027}))
    # Thursday 4 February + 1 working day: across the holiday to the 调休 Saturday.
    due, basis = calendar.deadline(utc("2027-02-04 10:00"), 1, workdays=workdays)
    assert due == utc("2027-02-13 10:00")
    assert basis.official == (2027,) and not basis.guessed
    assert basis.label == "按 2027 年官方节假日安排（含调休）计算"
    # + 2: Sunday 14 is an ordinary weekend, so Monday 15.
    assert calendar.add_working_days(utc("2027-02-04 10:00"), 2, workdays=workdays) == utc(
        "2027-02-15 10:00"
    )
    # Reported during the holiday: the clock starts on the 调休 Saturday.
    assert calendar.add_working_days(utc("2027-02-08 09:00"), 1, workdays=workdays) == utc(
        "2027-02-15 00:00"
    )


def _one_working_day(session: Session, world: World) -> None:
    """The general grade's 办结 clock set to one working day."""
    grade = service.get_grade(session, key="general")
    rule = ClockIn(
        clock="closure", starts_on="new", stops_on="closed", amount=1, unit="working_days"
    )
    service.update_clock(session, principal=world.office, grade=grade, clock_in=rule)


def test_a_case_in_spring_festival_2027_counts_on_the_imported_notice(
    session: Session, world: World, clock: Clock
) -> None:
    _one_working_day(session, world)
    import_2027(session, world.office)
    clock.now = utc("2027-02-04 10:00")
    case = service.open_case(session, principal=world.office, title="春节前的舆情")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    closure = {v.clock: v for v in service.list_timers(session, case=case)}["closure"]
    assert closure.due_at == utc("2027-02-13 10:00")
    assert closure.rule_label == "按 2027 年官方节假日安排（含调休）计算"
    assert not closure.rule_guessed
    service.assign(session, principal=world.office, case=case, unit_id=world.cs)
    hours = {v.clock: v for v in service.list_timers(session, case=case)}["unit_feedback"]
    assert hours.rule_label == "按自然小时计算，节假日照常计时"


def test_a_year_without_data_says_so_and_entering_it_moves_the_deadline(
    session: Session, world: World, clock: Clock
) -> None:
    _one_working_day(session, world)
    assert 2027 not in calendar_service.list_known_years(session)  # seeded up to 2026
    clock.now = utc("2027-02-04 10:00")
    case = service.open_case(session, principal=world.office, title="无官方数据")
    service.triage(session, principal=world.office, case=case, grade_key="general")
    closure = {v.clock: v for v in service.list_timers(session, case=case)}["closure"]
    # Not a silent guess: the clock says which rule it used.
    assert closure.due_at == utc("2027-02-05 10:00")
    assert closure.rule_guessed
    assert closure.rule_label == "2027 年无官方数据，按周一至周五计算"
    # The office enters the notice: the running clock is counted again and the case says so.
    result = import_2027(session, world.office)
    assert result.years == (2027,) and result.moved_deadlines == 1
    closure = {v.clock: v for v in service.list_timers(session, case=case)}["closure"]
    assert closure.due_at == utc("2027-02-13 10:00") and not closure.rule_guessed
    notes = [e.text for e in service.list_entries(session, case=case) if e.kind == "deadline"]
    assert len(notes) == 1 and "2027-02-05 10:00 → 2027-02-13 10:00" in notes[0]


def test_the_warning_from_1_december_and_for_a_year_with_no_data(
    session: Session, world: World
) -> None:
    service.ensure_defaults(session)
    known = calendar_service.list_known_years(session)
    assert 2026 in known and 2027 not in known
    assert calendar_service.get_coverage_warning(session, today=date(2026, 11, 30)) is None
    warned = calendar_service.get_coverage_warning(session, today=date(2026, 12, 1))
    assert warned is not None and "2027 年" in warned
    # A year with no data at all: a warning, whatever the month.
    now = calendar_service.get_coverage_warning(session, today=date(2031, 3, 1))
    assert now is not None and "2031 年" in now and "周一至周五" in now
    import_2027(session, world.office)
    assert calendar_service.get_coverage_warning(session, today=date(2026, 12, 1)) is None
    # Only those who keep the calendar see it.
    assert calendar_service.get_warning(session, principal=world.leader) is None
    assert calendar_service.get_warning(session, principal=world.cs_head) is None


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("2027-02-30 休 春节\n", "第 1 行：“2027-02-30”不是有效日期"),
        ("2027-02-06 放 春节\n", "第 1 行：第二项应为“休”或“班”"),
        ("# 注释\n2027-02-15 班 调休\n", "第 2 行：2027-02-15 是星期一，本来就是工作日"),
        ("2027-02-06 休\n2027-02-06 班\n", "第 2 行：2027-02-06 已在第 1 行标为“休”"),
        ("2027-02-13~2027-02-06 休 春节\n", "应从早到晚"),
        ("2027-02-06\n", "应写成“日期 休/班 名称”"),
        ("# 只有注释\n\n", "文件里没有日期"),
    ],
)
def test_a_malformed_file_is_refused_in_chinese_and_nothing_stored_changes(
    session: Session, world: World, text: str, says: str
) -> None:
    service.ensure_defaults(session)
    import_2027(session, world.office)
    before = [(d.date, d.working, d.name) for d in calendar_service.list_days(session, year=2027)]
    with pytest.raises(calendar_service.CalendarError) as refused:
        calendar_service.import_text(session, by=world.office, data=text.encode())
    assert says in refused.value.message
    assert refused.value.message.startswith("文件未导入，已有的安排没有任何改动")
    after = [(d.date, d.working, d.name) for d in calendar_service.list_days(session, year=2027)]
    assert after == before


def test_the_file_format_reads_what_the_notice_says() -> None:
    text = (
        "\ufeff日期,类型,名称\n"
        "2027-01-01,休,元旦  # 周五\n"
        "2027-02-05 至 2027-02-07 休 春节 假期\n"
        "2027年2月13日，班，春节调休\n"
    )
    parsed = schedule.parse(schedule.decode(text.encode()))
    assert [(d.day.isoformat(), d.kind, d.name) for d in parsed.days] == [
        ("2027-01-01", "休", "元旦"),
        ("2027-02-05", "休", "春节 假期"),
        ("2027-02-06", "休", "春节 假期"),
        ("2027-02-07", "休", "春节 假期"),
        ("2027-02-13", "班", "春节调休"),
    ]
    # Saved by an older Excel as GB18030, it reads the same.
    assert schedule.parse(schedule.decode(NOTICE_2027.encode("gb18030"))) == schedule.parse(
        NOTICE_2027
    )
    # Written back, it reads back.
    assert schedule.parse(schedule.format_days(list(parsed.days))) == parsed
    # A make-up Saturday of the year before is added to that year, not a reason to replace it.
    assert schedule.parse("2026-12-26 班 元旦调休\n2027-01-01 休 元旦\n").years == (2027,)


def test_seeding_fills_the_package_years_and_never_overwrites_the_office(
    session: Session, world: World
) -> None:
    service.ensure_defaults(session)  # a fresh calendar is seeded from the package
    years = calendar_service.list_years(session)
    assert {y.year for y in years} == set(calendar.package_calendar().years)
    y2024 = {(d.date, d.working) for d in calendar_service.list_days(session, year=2024)}
    assert (date(2024, 2, 12), False) in y2024 and (date(2024, 2, 18), True) in y2024
    # The office corrects a day of 2026; seeding again leaves its entry alone.
    calendar_service.update_day(
        session, by=world.office, day=date(2026, 12, 31), working=False, name="校庆"
    )
    assert calendar_service.seed_from_package(session, by=world.office) == ()
    assert session.get(CalendarDay, date(2026, 12, 31)) is not None
    # A unit account may not edit the calendar.
    with pytest.raises(CasePermissionError):
        calendar_service.update_day(session, by=world.cs_head, day=date(2027, 1, 1), working=False)


def test_the_calendar_is_cached_per_process_and_read_again_after_an_edit(
    session: Session, world: World
) -> None:
    service.ensure_defaults(session)
    first = calendar.load(session)
    assert calendar.load(session) is first  # nothing changed: the cached calendar
    assert first.is_working_day(date(2027, 2, 5))
    import_2027(session, world.office)
    again = calendar.load(session)
    assert again is not first and not again.is_working_day(date(2027, 2, 5))
    assert again.is_working_day(date(2027, 2, 13))  # the 调休 Saturday
    # An edit made by another process (no invalidate() here) is seen through the revision.
    calendar_service.delete_day(session, by=world.office, day=date(2027, 2, 13))
    session.flush()
    assert not calendar.load(session).is_working_day(date(2027, 2, 13))


def test_a_bad_line_after_good_ones_stores_none_of_them(session: Session, world: World) -> None:
    service.ensure_defaults(session)
    import_2027(session, world.office)
    audit_rows = session.execute(select(func.count()).select_from(AuditEntry)).scalar_one()
    text = "2027-10-01~2027-10-07 休 国庆节\n2027-10-09 班 国庆调休\n2027-13-01 休 错误\n"
    with pytest.raises(calendar_service.CalendarError) as refused:
        calendar_service.import_text(session, by=world.office, data=text.encode())
    assert "第 3 行：“2027-13-01”不是有效日期" in refused.value.message
    assert session.get(CalendarDay, date(2027, 10, 1)) is None
    assert session.get(CalendarDay, date(2027, 2, 5)) is not None  # the earlier import stays
    assert session.execute(select(func.count()).select_from(AuditEntry)).scalar_one() == audit_rows
