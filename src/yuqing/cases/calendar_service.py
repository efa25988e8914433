"""The office's working calendar (工作日历): official days off and 调休 per year, kept in the
database, edited on the desk, imported from a notice file, seeded from the package.

Every function works in the caller's transaction and never commits. An edit bumps its year's
revision (the per-process calendar cache sees it), writes one audit row and counts the
running working-day clocks again, noting each moved deadline on the case's timeline.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import calendar, schedule
from yuqing.cases.models import (
    CalendarDay,
    CalendarYear,
    Case,
    CaseEntry,
    CaseTimer,
    Closure,
    SlaClock,
)
from yuqing.cases.schemas import CaseError, CasePermissionError
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local, to_local, utcnow

MANAGE = "cases.manage"
SOURCES = {"package": "软件包", "import": "导入", "manual": "手工录入"}
# From this day of December on, a missing next year is a warning on the desk.
WARN_FROM = (12, 1)


class CalendarError(CaseError):
    """A refused calendar edit, said in Chinese; nothing was changed."""


@dataclass(frozen=True)
class YearView:
    """One year of the calendar as the page lists it."""

    year: int
    source: str
    source_label: str
    note: str
    updated_at: datetime
    days_off: int
    working_days: int


@dataclass(frozen=True)
class ImportResult:
    """What an import changed: the years replaced and the days now stored from the file."""

    years: tuple[int, ...]
    days_off: int
    working_days: int
    moved_deadlines: int


def may_edit(principal: Principal) -> bool:
    """The office (宣传部舆情办, every unit) keeps the calendar, as it keeps the closures."""
    return principal.can(MANAGE) and principal.visible_units is None


def _actor(by: Principal | Actor) -> Actor:
    """Who edits: an account of the desk, which must keep the calendar, or the operator at
    the command line (an Actor, trusted as the machine's administrator)."""
    if isinstance(by, Actor):
        return by
    if not may_edit(by):
        raise CasePermissionError("permission", "只有宣传部（舆情办）可以维护工作日历")
    return by.actor


# --- reading --------------------------------------------------------------------------


def list_years(session: Session) -> list[YearView]:
    counts = {
        (year, working): n
        for year, working, n in session.execute(
            select(CalendarDay.year, CalendarDay.working, func.count()).group_by(
                CalendarDay.year, CalendarDay.working
            )
        )
    }
    rows = session.execute(select(CalendarYear).order_by(CalendarYear.year.desc())).scalars()
    return [
        YearView(
            year=y.year,
            source=y.source,
            source_label=SOURCES.get(y.source, y.source),
            note=y.note,
            updated_at=y.updated_at,
            days_off=counts.get((y.year, False), 0),
            working_days=counts.get((y.year, True), 0),
        )
        for y in rows
    ]


def list_days(session: Session, *, year: int) -> list[CalendarDay]:
    """The days off and make-up working days stored for ``year``, in date order."""
    query = select(CalendarDay).where(CalendarDay.year == year).order_by(CalendarDay.date)
    return list(session.execute(query).scalars())


def list_known_years(session: Session) -> frozenset[int]:
    """The years the calendar holds."""
    return frozenset(session.execute(select(CalendarYear.year)).scalars())


def current_date() -> date:
    """The institution's date now (tests set it)."""
    now = to_local(utcnow())
    assert now is not None
    return now.date()


def get_warning(session: Session, *, principal: Principal | None) -> str | None:
    """The missing-year warning for a viewer who keeps the calendar (others cannot act on it)."""
    if principal is None or not may_edit(principal):
        return None
    return get_coverage_warning(session, today=current_date())


def get_coverage_warning(session: Session, *, today: date) -> str | None:
    """The warning administrators see: this year has no official data, or from 1 December
    the next year has none yet (deadlines then count Monday to Friday)."""
    years = list_known_years(session)
    if today.year not in years:
        return (
            f"工作日历缺少 {today.year} 年的官方放假安排：按工作日计算的时限正按周一至周五计算，"
            "春节等法定节假日会被算作工作日。请录入或导入国务院办公厅的放假通知。"
        )
    if (today.month, today.day) >= WARN_FROM and today.year + 1 not in years:
        return (
            f"工作日历还没有 {today.year + 1} 年的官方放假安排。国务院办公厅的通知发布后请尽快录入"
            f"或导入；在此之前，跨入 {today.year + 1} 年的时限按周一至周五计算。"
        )
    return None


# --- writing --------------------------------------------------------------------------


def _touch(session: Session, year: int, *, source: str, note: str | None = None) -> CalendarYear:
    """The year's row, created when missing, with its revision bumped."""
    row = session.get(CalendarYear, year)
    if row is None:
        row = CalendarYear(year=year, source=source, note=note or "", revision=0)
        session.add(row)
    elif note is not None:
        row.source, row.note = source, note
    row.revision = (row.revision or 0) + 1
    row.updated_at = utcnow()
    session.flush()
    return row


def _edited(session: Session, actor: Actor) -> int:
    calendar.invalidate()
    return recount_deadlines(session, actor=actor)


def update_day(
    session: Session, *, by: Principal | Actor, day: date, working: bool, name: str = ""
) -> CalendarDay:
    """Mark one day as a day off (休) or a make-up working day (班), replacing what it was."""
    actor = _actor(by)
    name = name.strip()[:60]
    if working and day.weekday() < 5:
        raise CalendarError(
            "calendar_workday",
            f"{day.isoformat()} 本来就是工作日；调休上班日（班）只会是周六或周日",
        )
    if not schedule.FIRST_YEAR <= day.year <= schedule.LAST_YEAR:
        raise CalendarError("calendar_year", "年份应在 2000–2100 之间")
    _touch(session, day.year, source="manual")
    row = session.get(CalendarDay, day)
    before = {"working": row.working, "name": row.name} if row else {}
    row = row or CalendarDay(date=day, year=day.year)
    row.working, row.name = working, name
    session.add(row)
    session.flush()
    kind = schedule.WORK if working else schedule.OFF
    audit.record(
        session,
        actor=actor,
        action="update" if before else "create",
        object_type="case_calendar_day",
        object_id=day.isoformat(),
        summary=f"工作日历：{day.isoformat()} 设为“{kind}”{f'（{name}）' if name else ''}",
        changes=audit.diff(before, {"working": working, "name": name}),
    )
    _edited(session, actor)
    return row


def delete_day(session: Session, *, by: Principal | Actor, day: date) -> None:
    """Take a day off the calendar (it counts as an ordinary weekday or weekend again)."""
    actor = _actor(by)
    row = session.get(CalendarDay, day)
    if row is None:
        raise CalendarError("calendar_missing", f"工作日历里没有 {day.isoformat()}")
    kind = schedule.WORK if row.working else schedule.OFF
    session.delete(row)
    _touch(session, day.year, source="manual")
    audit.record(
        session,
        actor=actor,
        action="delete",
        object_type="case_calendar_day",
        object_id=day.isoformat(),
        summary=f"工作日历：删除 {day.isoformat()}（{kind}）",
    )
    _edited(session, actor)


def delete_year(session: Session, *, by: Principal | Actor, year: int) -> None:
    """Forget a whole year: its deadlines count Monday to Friday again (and the desk warns)."""
    actor = _actor(by)
    row = session.get(CalendarYear, year)
    if row is None:
        raise CalendarError("calendar_missing", f"工作日历里没有 {year} 年")
    session.execute(delete(CalendarDay).where(CalendarDay.year == year))
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="delete",
        object_type="case_calendar_year",
        object_id=year,
        summary=f"工作日历：删除 {year} 年的全部安排",
    )
    _edited(session, actor)


def _store(
    session: Session, days: tuple[schedule.ScheduleDay, ...], *, source: str, note: str
) -> tuple[int, ...]:
    """Replace the years of ``days`` that have a day off; add the other days to their year."""
    replaced = sorted({d.day.year for d in days if not d.working})
    for year in replaced:
        session.execute(delete(CalendarDay).where(CalendarDay.year == year))
    for year in sorted({d.day.year for d in days}):
        _touch(session, year, source=source, note=note if year in replaced else None)
    for d in days:
        row = session.get(CalendarDay, d.day) or CalendarDay(date=d.day, year=d.day.year)
        row.working, row.name = d.working, d.name[:60]
        session.add(row)
    session.flush()
    return tuple(replaced)


def import_text(
    session: Session, *, by: Principal | Actor, data: bytes, filename: str = ""
) -> ImportResult:
    """Import a notice file (see docs/cases.md). A malformed file raises CalendarError
    naming each bad line, before anything is touched."""
    actor = _actor(by)
    try:
        parsed = schedule.parse(schedule.decode(data))
    except schedule.ScheduleFileError as error:
        raise CalendarError("calendar_file", error.message) from error
    note = filename.strip()[:150]
    years = _store(session, parsed.days, source="import", note=note)
    off = sum(not d.working for d in parsed.days)
    audit.record(
        session,
        actor=actor,
        action="import",
        object_type="case_calendar_year",
        object_id=",".join(str(y) for y in years) or None,
        summary=f"工作日历：导入{filename and f'“{filename[:100]}”'}，"
        f"替换 {'、'.join(str(y) for y in years) or '无'} 年；"
        f"休 {off} 天，班 {len(parsed.days) - off} 天",
    )
    moved = _edited(session, actor)
    return ImportResult(years, off, len(parsed.days) - off, moved)


def seed(
    session: Session,
    *,
    actor: Actor,
    days: list[schedule.ScheduleDay] | None = None,
    source_note: str | None = None,
) -> tuple[int, ...]:
    """Fill the years the package knows and the calendar lacks; a year already stored (the
    office's own entries, an import) is never overwritten. Returns the years added."""
    days = schedule.package_days() if days is None else days
    stored = list_known_years(session)
    new = tuple(d for d in days if d.day.year not in stored)
    if not new:
        return ()
    note = source_note or schedule.package_version()
    years = tuple(sorted({d.day.year for d in new}))
    for year in years:
        _touch(session, year, source="package", note=note)
    session.add_all(
        CalendarDay(date=d.day, year=d.day.year, working=d.working, name=d.name[:60]) for d in new
    )
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="import",
        object_type="case_calendar_year",
        object_id=",".join(str(y) for y in years),
        summary=f"工作日历：从 {note} 补充 {'、'.join(str(y) for y in years)} 年",
    )
    _edited(session, actor)
    return years


def seed_from_package(session: Session, *, by: Principal | Actor) -> tuple[int, ...]:
    """``seed`` on request (the desk's button, ``yuqing calendar seed``)."""
    return seed(session, actor=_actor(by))


def ensure_seeded(session: Session) -> None:
    """Seed once, on a calendar that has never held a year (a fresh install)."""
    if session.execute(select(CalendarYear.year).limit(1)).first() is None:
        seed(session, actor=audit.SYSTEM)


# --- deadlines counted again ----------------------------------------------------------


def recount_deadlines(session: Session, *, actor: Actor) -> int:
    """Count every running working-day clock of an open case again on the calendar as it
    now is; a deadline that moves is noted on the case's timeline. Returns how many moved."""
    workdays = calendar.load(session)
    closures = frozenset(session.execute(select(Closure.date)).scalars())
    zone = get_settings().timezone
    rows = session.execute(
        select(CaseTimer, SlaClock)
        .join(Case, Case.id == CaseTimer.case_id)
        .join(SlaClock, (SlaClock.grade_id == Case.grade_id) & (SlaClock.clock == CaseTimer.clock))
        .where(CaseTimer.satisfied_at.is_(None), SlaClock.unit == "working_days")
    )
    moved = 0
    for timer, rule in rows:
        due, basis = calendar.deadline(
            timer.started_at, rule.amount, zone=zone, closures=closures, workdays=workdays
        )
        due += _paused(timer)
        timer.calendar_rule = basis.encode()
        if due != timer.due_at:
            session.add(
                CaseEntry(
                    case_id=timer.case_id,
                    actor_id=actor.user_id,
                    actor_name=actor.name,
                    kind="deadline",
                    text=f"工作日历已更新，时限重新计算：{format_local(timer.due_at)} → "
                    f"{format_local(due)}（{basis.label}）",
                )
            )
            timer.due_at = due
            moved += 1
    session.flush()
    return moved


def _paused(timer: CaseTimer) -> timedelta:
    return timedelta(seconds=timer.paused_seconds or 0.0)
