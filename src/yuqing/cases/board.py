"""The board of open cases (nearest deadline first) and the monthly figures per unit (考核).

Both read the cases a principal may see (``access.list_cases``) and the running clocks;
nothing here writes.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.cases import access, clocks, config, grades
from yuqing.cases.models import Case, CaseTimer, Grade
from yuqing.cases.schemas import BoardRow, UnitFigures
from yuqing.core.timeutil import local_zone
from yuqing.org.models import Person, Unit


def list_board_rows(
    session: Session, *, principal: Principal, now: datetime | None = None
) -> list[BoardRow]:
    """Open cases the principal sees, the nearest deadline first (overdue on top)."""
    now = now or clocks.current_time()
    cases, _total = access.list_cases(session, principal=principal, closed=False, limit=1000)
    if not cases:
        return []
    ids = [c.id for c in cases]
    running = session.execute(
        select(CaseTimer).where(CaseTimer.case_id.in_(ids), CaseTimer.satisfied_at.is_(None))
    ).scalars()
    nearest: dict[int, tuple[float, CaseTimer]] = {}
    for timer in running:
        _state, left = clocks.timer_state(timer, now)
        if timer.case_id not in nearest or left < nearest[timer.case_id][0]:
            nearest[timer.case_id] = (left, timer)
    by_id = {g.id: g for g in grades.list_grades(session)}
    names = names_of(session, cases=cases)
    rows = [_board_row(c, nearest.get(c.id), by_id.get(c.grade_id or 0), names) for c in cases]
    return sorted(rows, key=lambda r: (r.seconds_left is None, r.seconds_left or 0.0, r.case_id))


def names_of(session: Session, *, cases: list[Case]) -> dict[tuple[str, int], str]:
    """The names of the cases' units and assignees, keyed ("unit", id) and ("person", id):
    one query each for a whole list (org has no read of names by ids)."""
    unit_ids = {c.unit_id for c in cases if c.unit_id}
    person_ids = {c.assignee_person_id for c in cases if c.assignee_person_id}
    names: dict[tuple[str, int], str] = {}
    if unit_ids:
        for uid, name in session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(unit_ids))):
            names["unit", uid] = name
    if person_ids:
        statement = select(Person.id, Person.name).where(Person.id.in_(person_ids))
        for pid, name in session.execute(statement):
            names["person", pid] = name
    return names


def _board_row(
    case: Case,
    nearest: tuple[float, CaseTimer] | None,
    grade: Grade | None,
    names: dict[tuple[str, int], str],
) -> BoardRow:
    left, timer = nearest if nearest else (None, None)
    return BoardRow(
        case_id=case.id,
        title=case.title,
        status=case.status,
        status_label=access.status_label(case.status),
        grade_key=grade.key if grade else None,
        grade_name=grade.name if grade else "未定级",
        grade_color=grade.color if grade else "grey",
        unit_id=case.unit_id,
        unit_name=names.get(("unit", case.unit_id or 0), ""),
        assignee_name=names.get(("person", case.assignee_person_id or 0), ""),
        clock=timer.clock if timer else None,
        clock_label=config.CLOCKS.get(timer.clock, timer.clock) if timer else "",
        due_at=timer.due_at if timer else None,
        seconds_left=left,
        overdue=left is not None and left < 0 and timer is not None and timer.paused_at is None,
    )


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """The month of ``month`` in the institution's zone, as naive UTC [start, end)."""
    zone = local_zone()
    first = datetime(month.year, month.month, 1, tzinfo=zone)
    nxt = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=zone)
    return (
        first.astimezone(UTC).replace(tzinfo=None),
        nxt.astimezone(UTC).replace(tzinfo=None),
    )


def list_unit_figures(
    session: Session, *, month: date, now: datetime | None = None
) -> list[UnitFigures]:
    """Per unit, the cases assigned to it in the month: how many, each clock met or missed,
    cases with a missed clock, and the average hours from assignment to feedback."""
    now = now or clocks.current_time()
    start_at, end_at = month_bounds(month)
    cases = list(
        session.execute(
            select(Case).where(
                Case.unit_id.is_not(None), Case.assigned_at >= start_at, Case.assigned_at < end_at
            )
        ).scalars()
    )
    timers: dict[int, list[CaseTimer]] = {}
    if cases:
        statement = select(CaseTimer).where(CaseTimer.case_id.in_([c.id for c in cases]))
        for timer in session.execute(statement).scalars():
            timers.setdefault(timer.case_id, []).append(timer)
    names = names_of(session, cases=cases)
    figures: dict[int, UnitFigures] = {}
    hours: dict[int, list[float]] = {}
    for case in cases:
        unit_id = case.unit_id or 0
        fig = figures.setdefault(unit_id, UnitFigures(unit_id, names.get(("unit", unit_id), "")))
        fig.received += 1
        late = False
        for timer in timers.get(case.id, []):
            state, _left = clocks.timer_state(timer, now)
            if state == "met":
                fig.met[timer.clock] = fig.met.get(timer.clock, 0) + 1
            elif state in {"missed", "overdue"}:
                fig.missed[timer.clock] = fig.missed.get(timer.clock, 0) + 1
                late = True
        fig.overdue += late
        if case.feedback_at and case.assigned_at and case.feedback_at >= case.assigned_at:
            hours.setdefault(unit_id, []).append(
                (case.feedback_at - case.assigned_at).total_seconds() / 3600
            )
    for unit_id, values in hours.items():
        figures[unit_id].avg_hours_to_feedback = round(sum(values) / len(values), 2)
    return sorted(figures.values(), key=lambda f: (-f.received, f.unit_name))
