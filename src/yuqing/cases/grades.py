"""Lookup data of case handling: the grades (处置等级), their SLA clocks and the closed days.

Grades and clocks are data seeded from ``config.py``; only the publicity office (every unit,
``cases.manage``) changes them, and every change writes one audit row.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import calendar_service, config
from yuqing.cases.access import MANAGE
from yuqing.cases.models import Case, Closure, Grade, SlaClock
from yuqing.cases.schemas import CaseError, CasePermissionError, ClockIn, GradeIn
from yuqing.core import audit


def _record(
    session: Session,
    principal: Principal,
    action: str,
    object_type: str,
    object_id: object,
    summary: str,
    changes: dict[str, Any] | None = None,
) -> None:
    """The audit row of a change to the grades, clocks or closed days (the office's tables)."""
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        object_type=object_type,
        object_id=object_id,
        summary=summary,
        changes=changes,
    )


def ensure_defaults(session: Session) -> None:
    """Seed the default grades and their SLA clocks when no grade exists yet, and the working
    calendar from the package when it has never held a year."""
    calendar_service.ensure_seeded(session)
    if session.execute(select(Grade.id).limit(1)).first() is not None:
        return
    for key, name, order, color, is_default in config.GRADES:
        grade = Grade(key=key, name=name, order=order, color=color, is_default=is_default)
        session.add(grade)
        session.flush()
        for clock, starts, stops, amount, unit, pause in config.SLA.get(key, []):
            session.add(
                SlaClock(
                    grade_id=grade.id,
                    clock=clock,
                    starts_on=starts,
                    stops_on=stops,
                    amount=amount,
                    unit=unit,
                    pause_when_returned=pause,
                )
            )
    session.flush()


def list_grades(session: Session) -> list[Grade]:
    """The grades in their order (seeded on first use)."""
    ensure_defaults(session)
    return list(session.execute(select(Grade).order_by(Grade.order, Grade.id)).scalars())


def get_grade(session: Session, *, key: str) -> Grade:
    """The grade named ``key``; CaseError when there is none (a form sent an unknown one)."""
    ensure_defaults(session)
    grade = session.execute(select(Grade).where(Grade.key == key)).scalar_one_or_none()
    if grade is None:
        raise CaseError("grade_unknown", f"没有名为“{key}”的处置等级")
    return grade


def list_clocks(session: Session, *, grade_id: int | None) -> dict[str, SlaClock]:
    """The SLA clocks of a grade by clock key (none for an ungraded case)."""
    if grade_id is None:
        return {}
    rows = session.execute(select(SlaClock).where(SlaClock.grade_id == grade_id)).scalars()
    return {r.clock: r for r in rows}


def _check_office(principal: Principal) -> None:
    if not principal.can(MANAGE) or principal.visible_units is not None:
        raise CasePermissionError(
            "permission", "只有宣传部（舆情办）可以修改处置等级、时限和停工日"
        )


def update_grade(
    session: Session, *, principal: Principal, grade: Grade, grade_in: GradeIn
) -> Grade:
    """Rename or recolour a grade; one grade at most is the default."""
    _check_office(principal)
    fields = ("name", "order", "color", "is_default")
    before = {f: getattr(grade, f) for f in fields}
    after = {**grade_in.model_dump(), "name": grade_in.name.strip()}
    if not after["name"]:
        raise CaseError("grade_name", "等级名称不能为空")
    if after["is_default"]:
        for other in session.execute(select(Grade).where(Grade.id != grade.id)).scalars():
            other.is_default = False
    for f in fields:
        setattr(grade, f, after[f])
    session.flush()
    _record(
        session,
        principal,
        "update",
        "case_grade",
        grade.id,
        f"修改处置等级“{grade.name}”",
        audit.diff(before, after),
    )
    return grade


def delete_grade(session: Session, *, principal: Principal, grade: Grade) -> None:
    """Delete a grade no case uses (its clocks go with it)."""
    _check_office(principal)
    used = session.execute(
        select(func.count()).select_from(Case).where(Case.grade_id == grade.id)
    ).scalar_one()
    if used:
        raise CaseError("grade_in_use", f"该等级正在被 {used} 个处置单使用，不能删除")
    name, grade_id = grade.name, grade.id
    session.execute(delete(SlaClock).where(SlaClock.grade_id == grade_id))
    session.delete(grade)
    session.flush()
    _record(session, principal, "delete", "case_grade", grade_id, f"删除处置等级“{name}”")


def _check_clock(clock_in: ClockIn) -> None:
    if clock_in.clock not in config.CLOCKS:
        raise CaseError("clock_unknown", f"没有名为“{clock_in.clock}”的时限")
    if clock_in.starts_on not in config.STATUSES:
        raise CaseError("clock_start", f"起算状态“{clock_in.starts_on}”不存在")
    if clock_in.stops_on not in config.STATUSES and clock_in.stops_on not in config.CLOCK_EVENTS:
        raise CaseError("clock_stop", f"完成条件“{clock_in.stops_on}”不存在")
    if clock_in.unit not in config.CLOCK_UNITS:
        raise CaseError("clock_unit", "时限单位只能是小时或工作日")


def update_clock(
    session: Session, *, principal: Principal, grade: Grade, clock_in: ClockIn
) -> SlaClock:
    """Add or change one clock of a grade. Running timers keep the due time they got when
    they started; new cases and regrades use the new rule."""
    _check_office(principal)
    _check_clock(clock_in)
    row = list_clocks(session, grade_id=grade.id).get(clock_in.clock)
    fields = ("starts_on", "stops_on", "amount", "unit", "pause_when_returned")
    before = {f: getattr(row, f) for f in fields} if row else {}
    if row is None:
        row = SlaClock(grade_id=grade.id, clock=clock_in.clock)
        session.add(row)
    for f in fields:
        setattr(row, f, getattr(clock_in, f))
    session.flush()
    _record(
        session,
        principal,
        "update" if before else "create",
        "case_sla_clock",
        row.id,
        f"设置等级“{grade.name}”的时限“{config.CLOCKS[clock_in.clock]}”："
        f"{clock_in.amount:g} {config.CLOCK_UNITS[clock_in.unit]}",
        audit.diff(before, {f: getattr(row, f) for f in fields}),
    )
    return row


def delete_clock(session: Session, *, principal: Principal, grade: Grade, clock: str) -> None:
    """Stop using one clock for a grade (timers already started keep running)."""
    _check_office(principal)
    row = list_clocks(session, grade_id=grade.id).get(clock)
    if row is None:
        return
    session.delete(row)
    session.flush()
    _record(
        session,
        principal,
        "delete",
        "case_sla_clock",
        row.id,
        f"取消等级“{grade.name}”的时限“{config.CLOCKS.get(clock, clock)}”",
    )


def list_closures(session: Session) -> frozenset[date]:
    """The days marked closed (停工日)."""
    return frozenset(session.execute(select(Closure.date)).scalars())


def update_closure(session: Session, *, principal: Principal, day: date, reason: str) -> Closure:
    """Mark a day as closed (no working day) for deadlines in working days."""
    _check_office(principal)
    row = session.get(Closure, day) or Closure(date=day)
    row.reason = reason.strip()[:200]
    session.add(row)
    session.flush()
    _record(
        session,
        principal,
        "update",
        "case_closure",
        day.isoformat(),
        f"设置停工日 {day.isoformat()}（{row.reason}）",
    )
    return row
