"""Cases (舆情处置): opening, one guarded function per status change, clocks, access, figures.

Every function works in the caller's transaction and never commits. A transition checks its
guard (from which states, who may), sets its timestamp, writes one audit row and one
timeline entry, starts/stops/pauses the SLA clocks and puts its notifications in the
outbox; a refused one raises CaseError and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, delete, func, literal, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.alerts.models import Alert
from yuqing.auth.schemas import Principal
from yuqing.cases import calendar, calendar_service, config
from yuqing.cases.models import (
    Case,
    CaseEntry,
    CaseEvent,
    CaseMention,
    CaseTimer,
    Closure,
    Grade,
    SlaClock,
)
from yuqing.cases.schemas import (
    BoardRow,
    CaseError,
    CaseNotFound,
    CasePermissionError,
    ClockIn,
    GradeIn,
    TimerView,
    UnitFigures,
)
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.database import savepoint
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local, local_zone, utcnow
from yuqing.events.models import Event
from yuqing.mentions.models import Mention
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.org.models import DutyRole, Person, Unit, UnitKind

READ, REPORT, MANAGE, HANDLE = "cases.read", "cases.report", "cases.manage", "cases.handle"

# The time every transition stamps; tests replay a day by setting it (naive UTC).
current_time: Callable[[], datetime] = utcnow


@dataclass(frozen=True)
class Transition:
    """A named action: the states it leaves from, the state it enters, who may."""

    sources: frozenset[str]
    target: str
    who: Literal["manage", "handle"]  # handle: the office, or the case's own unit


TRANSITIONS: dict[str, Transition] = {
    "triage": Transition(
        frozenset({"new", "triaged", "escalated", "reopened"}), "triaged", "manage"
    ),
    "assign": Transition(
        frozenset({"triaged", "assigned", "in_progress", "returned", "escalated", "reopened"}),
        "assigned",
        "manage",
    ),
    "start": Transition(frozenset({"assigned", "returned"}), "in_progress", "handle"),
    "give_feedback": Transition(frozenset({"in_progress", "returned"}), "feedback", "handle"),
    "accept": Transition(frozenset({"feedback"}), "review", "manage"),
    "return_for_more": Transition(frozenset({"feedback", "review"}), "returned", "manage"),
    "close": Transition(frozenset({"review", "new", "triaged"}), "closed", "manage"),
    "escalate": Transition(
        frozenset({"triaged", "assigned", "in_progress", "returned"}), "escalated", "handle"
    ),
    "reopen": Transition(frozenset({"closed"}), "reopened", "manage"),
}

# The timestamp each status (or clock event) sets.
STAMP = {
    "new": "reported_at",
    "triaged": "triaged_at",
    "assigned": "assigned_at",
    "in_progress": "in_progress_at",
    "returned": "returned_at",
    "feedback": "feedback_at",
    "review": "reviewed_at",
    "closed": "closed_at",
    "escalated": "escalated_at",
    "reopened": "reopened_at",
    "info_published": "info_published_at",
    "responded": "responded_at",
}

# --- lookup data: grades, clocks, closures -------------------------------------------


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
    ensure_defaults(session)
    return list(session.execute(select(Grade).order_by(Grade.order, Grade.id)).scalars())


def grade_by_key(session: Session, key: str) -> Grade:
    ensure_defaults(session)
    grade = session.execute(select(Grade).where(Grade.key == key)).scalar_one_or_none()
    if grade is None:
        raise CaseError("grade_unknown", f"没有名为“{key}”的处置等级")
    return grade


def clocks_of(session: Session, grade_id: int | None) -> dict[str, SlaClock]:
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
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="case_grade",
        object_id=grade.id,
        summary=f"修改处置等级“{grade.name}”",
        changes=audit.diff(before, after),
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
    audit.record(
        session,
        actor=principal.actor,
        action="delete",
        object_type="case_grade",
        object_id=grade_id,
        summary=f"删除处置等级“{name}”",
    )


def _check_clock(clock_in: ClockIn) -> None:
    if clock_in.clock not in config.CLOCKS:
        raise CaseError("clock_unknown", f"没有名为“{clock_in.clock}”的时限")
    if clock_in.starts_on not in config.STATUSES:
        raise CaseError("clock_start", f"起算状态“{clock_in.starts_on}”不存在")
    if clock_in.stops_on not in config.STATUSES and clock_in.stops_on not in config.CLOCK_EVENTS:
        raise CaseError("clock_stop", f"完成条件“{clock_in.stops_on}”不存在")
    if clock_in.unit not in config.CLOCK_UNITS:
        raise CaseError("clock_unit", "时限单位只能是小时或工作日")


def set_clock(
    session: Session, *, principal: Principal, grade: Grade, clock_in: ClockIn
) -> SlaClock:
    """Add or change one clock of a grade. Running timers keep the due time they got when
    they started; new cases and regrades use the new rule."""
    _check_office(principal)
    _check_clock(clock_in)
    row = clocks_of(session, grade.id).get(clock_in.clock)
    fields = ("starts_on", "stops_on", "amount", "unit", "pause_when_returned")
    before = {f: getattr(row, f) for f in fields} if row else {}
    if row is None:
        row = SlaClock(grade_id=grade.id, clock=clock_in.clock)
        session.add(row)
    for f in fields:
        setattr(row, f, getattr(clock_in, f))
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="update" if before else "create",
        object_type="case_sla_clock",
        object_id=row.id,
        summary=f"设置等级“{grade.name}”的时限“{config.CLOCKS[clock_in.clock]}”："
        f"{clock_in.amount:g} {config.CLOCK_UNITS[clock_in.unit]}",
        changes=audit.diff(before, {f: getattr(row, f) for f in fields}),
    )
    return row


def remove_clock(session: Session, *, principal: Principal, grade: Grade, clock: str) -> None:
    _check_office(principal)
    row = clocks_of(session, grade.id).get(clock)
    if row is None:
        return
    session.delete(row)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="delete",
        object_type="case_sla_clock",
        object_id=row.id,
        summary=f"取消等级“{grade.name}”的时限“{config.CLOCKS.get(clock, clock)}”",
    )


def closures(session: Session) -> frozenset[date]:
    return frozenset(session.execute(select(Closure.date)).scalars())


def set_closure(session: Session, *, principal: Principal, day: date, reason: str) -> Closure:
    """Mark a day as closed (no working day) for deadlines in working days."""
    _check_office(principal)
    row = session.get(Closure, day) or Closure(date=day)
    row.reason = reason.strip()[:200]
    session.add(row)
    session.flush()
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="case_closure",
        object_id=day.isoformat(),
        summary=f"设置停工日 {day.isoformat()}（{row.reason}）",
    )
    return row


# --- reading: access, lists ----------------------------------------------------------


def _scope(principal: Principal) -> ColumnElement[bool] | None:
    """Cases of the principal's units (assigned to them or reported by them)."""
    if principal.visible_units is None:
        return None
    units = sorted(principal.visible_units)
    return or_(Case.unit_id.in_(units), Case.reporter_unit_id.in_(units))


def sees_case(principal: Principal, case: Case) -> bool:
    if principal.visible_units is None:
        return True
    return principal.sees_unit(case.unit_id) or principal.sees_unit(case.reporter_unit_id)


def get_case(session: Session, *, principal: Principal, case_id: int) -> Case:
    """The case, or CaseNotFound when it does not exist or lies outside the principal's
    units (the view answers 404 either way)."""
    case = session.get(Case, case_id)
    if case is None or not sees_case(principal, case):
        raise CaseNotFound(f"舆情处置单 {case_id} 不存在或不在您的查看范围内")
    if not principal.can(READ):
        raise CasePermissionError("permission", "您的账号没有查看舆情处置的权限")
    return case


def list_cases(
    session: Session,
    *,
    principal: Principal,
    status: str | Sequence[str] | None = None,
    grade: str | None = None,
    unit_id: int | None = None,
    q: str | None = None,
    tag: str | None = None,
    closed: bool | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[Case], int]:
    """Cases the principal may see, newest first, with the total before paging."""
    if not principal.can(READ):
        raise CasePermissionError("permission", "您的账号没有查看舆情处置的权限")
    clauses: list[ColumnElement[bool]] = []
    scope = _scope(principal)
    if scope is not None:
        clauses.append(scope)
    if status:
        clauses.append(Case.status.in_([status] if isinstance(status, str) else list(status)))
    if grade:
        clauses.append(
            Case.grade_id == select(Grade.id).where(Grade.key == grade).scalar_subquery()
        )
    if unit_id is not None:
        clauses.append(Case.unit_id == unit_id)
    if closed is not None:
        clauses.append(Case.status == "closed" if closed else Case.status != "closed")
    if tag and tag.strip():
        padded = literal(" ") + Case.tags + literal(" ")
        clauses.append(padded.contains(f" {tag.strip()} ", autoescape=True))
    if q and q.strip():
        clauses.append(_text_match(q.strip()))
    total = session.execute(select(func.count()).select_from(Case).where(*clauses)).scalar_one()
    rows = session.execute(
        select(Case)
        .where(*clauses)
        .order_by(Case.created_at.desc(), Case.id.desc())
        .limit(limit)
        .offset(offset)
    ).scalars()
    return list(rows), int(total)


_TEXT_COLUMNS = (
    Case.title,
    Case.summary,
    Case.feedback_text,
    Case.response_text,
    Case.lessons,
    Case.tags,
)


def _text_match(q: str) -> ColumnElement[bool]:
    """Every word (up to 8) in the title, summary, feedback, response, lessons or tags."""

    def anywhere(word: str) -> ColumnElement[bool]:
        return or_(
            *(
                func.lower(func.coalesce(c, "")).contains(word.lower(), autoescape=True)
                for c in _TEXT_COLUMNS
            )
        )

    return and_(*(anywhere(w) for w in q.split()[:8]))


def timeline(session: Session, case: Case) -> list[CaseEntry]:
    statement = select(CaseEntry).where(CaseEntry.case_id == case.id)
    return list(session.execute(statement.order_by(CaseEntry.at, CaseEntry.id)).scalars())


def mention_ids_of(session: Session, case: Case) -> list[int]:
    statement = select(CaseMention.mention_id).where(CaseMention.case_id == case.id)
    return list(session.execute(statement.order_by(CaseMention.mention_id)).scalars())


def event_ids_of(session: Session, case: Case) -> list[int]:
    statement = select(CaseEvent.event_id).where(CaseEvent.case_id == case.id)
    return list(session.execute(statement.order_by(CaseEvent.event_id)).scalars())


def status_label(status: str) -> str:
    return config.STATUSES.get(status, status)


# --- permissions of an action ---------------------------------------------------------


def _may(principal: Principal, case: Case, who: str) -> bool:
    if principal.can(MANAGE) and principal.visible_units is None:
        return True
    if who == "manage":
        return False
    return principal.can(HANDLE) and case.unit_id is not None and principal.sees_unit(case.unit_id)


def allowed_transitions(case: Case, principal: Principal) -> list[str]:
    """The actions the principal may take on the case now (the page's buttons)."""
    return [
        name
        for name, t in TRANSITIONS.items()
        if case.status in t.sources and _may(principal, case, t.who)
    ]


def _guard(case: Case, principal: Principal, action: str) -> Transition:
    t = TRANSITIONS[action]
    if case.status not in t.sources:
        raise CaseError(
            "state",
            f"当前状态“{status_label(case.status)}”不能执行“{config.ACTIONS[action]}”",
        )
    if not _may(principal, case, t.who):
        who = "宣传部（舆情办）" if t.who == "manage" else "宣传部或承办单位"
        raise CasePermissionError("permission", f"只有{who}可以执行“{config.ACTIONS[action]}”")
    return t


# --- clocks ---------------------------------------------------------------------------


def _due(
    rule: SlaClock, started: datetime, days_off: frozenset[date], workdays: calendar.WorkCalendar
) -> tuple[datetime, str]:
    """The due time and the rule it was counted on (stored on the timer, shown on the page)."""
    if rule.unit == "working_days":
        zone = get_settings().timezone
        due, basis = calendar.deadline(
            started, rule.amount, zone=zone, closures=days_off, workdays=workdays
        )
        return due, basis.encode()
    return calendar.add_hours(started, rule.amount), calendar.HOURS_RULE


def timers_rows(session: Session, case: Case) -> dict[str, CaseTimer]:
    rows = session.execute(select(CaseTimer).where(CaseTimer.case_id == case.id)).scalars()
    return {t.clock: t for t in rows}


def _restart(
    timer: CaseTimer,
    rule: SlaClock,
    started: datetime,
    days_off: frozenset[date],
    workdays: calendar.WorkCalendar,
) -> None:
    timer.started_at = started
    timer.due_at, timer.calendar_rule = _due(rule, started, days_off, workdays)
    timer.paused_at, timer.paused_seconds, timer.satisfied_at = None, 0.0, None
    timer.reminded_50_at = timer.reminded_80_at = timer.last_escalated_at = None
    timer.escalation_step = 0


def _resume(timer: CaseTimer, now: datetime) -> None:
    if timer.paused_at is not None:
        held = max(0.0, (now - timer.paused_at).total_seconds())
        timer.paused_seconds += held
        timer.due_at += timedelta(seconds=held)
        timer.paused_at = None


def _start_time(
    case: Case, rule: SlaClock, timer: CaseTimer | None, marks: set[str], now: datetime
) -> datetime | None:
    """When the clock (re)starts now, or ``None``: it starts on entering its state; a met
    clock waiting for a status starts again when that state comes back (重新打开); a clock
    of a grade set late starts back-dated to the time its state was entered."""
    if rule.starts_on in marks:
        if timer is None:
            return now
        again = timer.satisfied_at is not None and rule.stops_on in config.STATUSES
        return now if again else None
    if timer is not None:
        return None
    started: datetime | None = getattr(case, STAMP[rule.starts_on])
    stop_field = STAMP.get(rule.stops_on)
    stopped: datetime | None = getattr(case, stop_field) if stop_field else None
    if started is not None and (stopped is None or stopped < started):
        return started
    return None


def _start_clocks(
    session: Session, case: Case, marks: set[str], now: datetime, *, regrade: bool
) -> None:
    """Start the grade's clocks whose start state is entered now; when the grade arrives
    late (研判), clocks whose start state has passed start back-dated to it."""
    policy = clocks_of(session, case.grade_id)
    timers = timers_rows(session, case)
    days_off, workdays = closures(session), calendar.load(session)
    for clock, timer in timers.items():
        if clock not in policy and timer.satisfied_at is None:
            session.delete(timer)  # a regrade dropped this clock
    for clock, rule in policy.items():
        found = timers.get(clock)
        started = _start_time(case, rule, found, marks, now)
        if started is not None:
            fresh = found or CaseTimer(case_id=case.id, clock=clock)
            _restart(fresh, rule, started, days_off, workdays)
            session.add(fresh)
        elif regrade and found is not None and found.satisfied_at is None:
            due, found.calendar_rule = _due(rule, found.started_at, days_off, workdays)
            found.due_at = due + timedelta(seconds=found.paused_seconds)
    session.flush()


def _update_clocks(
    session: Session, case: Case, marks: set[str], before: str, now: datetime, *, regrade: bool
) -> None:
    """Resume, start, stop and pause the case's clocks for the marks just reached."""
    for timer in timers_rows(session, case).values():
        if before == "returned":
            _resume(timer, now)
    _start_clocks(session, case, marks, now, regrade=regrade)
    policy = clocks_of(session, case.grade_id)
    for timer in timers_rows(session, case).values():
        if timer.satisfied_at is not None:
            continue
        rule = policy.get(timer.clock)
        if "closed" in marks or (rule is not None and rule.stops_on in marks):
            _resume(timer, now)
            timer.satisfied_at = now
        elif "returned" in marks and rule is not None and rule.pause_when_returned:
            timer.paused_at = now
    session.flush()


def timer_state(timer: CaseTimer, now: datetime) -> tuple[str, float]:
    """(state, seconds left) of a timer: met/missed once stopped, paused, overdue, running."""
    if timer.satisfied_at is not None:
        left = (timer.due_at - timer.satisfied_at).total_seconds()
        return ("met" if left >= 0 else "missed"), left
    if timer.paused_at is not None:
        return "paused", (timer.due_at - timer.paused_at).total_seconds()
    left = (timer.due_at - now).total_seconds()
    return ("running" if left >= 0 else "overdue"), left


TIMER_STATES = {
    "running": "计时中",
    "paused": "已暂停",
    "overdue": "已超时",
    "met": "按时完成",
    "missed": "超时完成",
}


def timers_of(session: Session, case: Case, now: datetime | None = None) -> list[TimerView]:
    """The case's clocks as the page shows them, nearest deadline first."""
    now = now or current_time()
    views = []
    for timer in timers_rows(session, case).values():
        state, left = timer_state(timer, now)
        views.append(
            TimerView(
                clock=timer.clock,
                label=config.CLOCKS.get(timer.clock, timer.clock),
                started_at=timer.started_at,
                due_at=timer.due_at,
                seconds_left=left,
                state=state,
                state_label=TIMER_STATES[state],
                escalation_step=timer.escalation_step,
                rule_label=calendar.rule_label(timer.calendar_rule),
                rule_guessed=calendar.rule_guessed(timer.calendar_rule),
            )
        )
    order = {"overdue": 0, "running": 1, "paused": 2, "missed": 3, "met": 4}
    return sorted(views, key=lambda v: (order[v.state], v.seconds_left))


# --- writing: timeline, audit, notifications ------------------------------------------


def add_entry(
    session: Session,
    case: Case,
    actor: Actor,
    kind: str,
    text: str,
    *,
    from_status: str | None = None,
    to_status: str | None = None,
) -> CaseEntry:
    entry = CaseEntry(
        case_id=case.id,
        at=current_time(),
        actor_id=actor.user_id,
        actor_name=actor.name[:100],
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        text=text,
    )
    session.add(entry)
    session.flush()
    return entry


def publicity_recipients(session: Session) -> list[Recipient]:
    """The publicity office: holders of the duty role 宣传部管理员."""
    role_id = session.execute(
        select(DutyRole.id).where(DutyRole.key == config.PUBLICITY_DUTY_ROLE)
    ).scalar()
    return [Recipient(kind="role", id=role_id)] if role_id is not None else []


def leading_group_recipients(session: Session) -> list[Recipient]:
    """The people of every unit of kind 领导小组."""
    statement = (
        select(Unit.id)
        .join(UnitKind, UnitKind.id == Unit.kind_id)
        .where(UnitKind.key == config.LEADING_GROUP_KIND)
    )
    return [Recipient(kind="unit", id=u) for u in session.execute(statement).scalars()]


def responsible_recipients(session: Session, case: Case) -> list[Recipient]:
    """The assignee; before assignment, the publicity office."""
    if case.assignee_person_id is not None:
        return [Recipient(kind="person", id=case.assignee_person_id)]
    return publicity_recipients(session)


def unit_head_recipients(session: Session, case: Case) -> list[Recipient]:
    unit = session.get(Unit, case.unit_id) if case.unit_id is not None else None
    if unit is None or unit.head_person_id is None:
        return publicity_recipients(session)
    return [Recipient(kind="person", id=unit.head_person_id)]


def notify_case(
    session: Session,
    case: Case,
    *,
    title: str,
    text: str,
    recipients: list[Recipient],
    dedupe_key: str,
    level: Literal["info", "warning", "urgent"] = "warning",
) -> int:
    """One message about the case through the outbox; the number of deliveries queued."""
    if not recipients:
        return 0
    message = Message(title=title, text=text, level=level, link=config.CASE_LINK.format(id=case.id))
    rows = notify.enqueue(
        session,
        message=message,
        recipients=recipients,
        dedupe_key=dedupe_key,
        source_type="case",
        source_id=case.id,
    )
    return len(rows)


def _grade_level(session: Session, case: Case) -> Literal["warning", "urgent"]:
    grade = session.get(Grade, case.grade_id) if case.grade_id else None
    return "urgent" if grade is not None and grade.color in {"red", "orange"} else "warning"


def _apply(
    session: Session,
    *,
    principal: Principal | Actor,
    case: Case,
    action: str,
    text: str,
    values: dict[str, Any] | None = None,
    events: Iterable[str] = (),
    regrade: bool = False,
) -> CaseEntry:
    """The common body of a transition: values, timestamp, clocks, audit, timeline."""
    actor = principal.actor if isinstance(principal, Principal) else principal
    target = TRANSITIONS[action].target
    now = current_time()
    before_status = case.status
    values = dict(values or {})
    values["status"] = target
    values[STAMP[target]] = now
    marks = {target}
    for event in events:
        if getattr(case, STAMP[event]) is None:
            values[STAMP[event]] = now
            marks.add(event)
    before = {k: getattr(case, k) for k in values}
    for key, value in values.items():
        setattr(case, key, value)
    session.flush()
    _update_clocks(session, case, marks, before_status, now, regrade=regrade)
    audit.record(
        session,
        actor=actor,
        action="update",
        object_type="case",
        object_id=case.id,
        summary=f"舆情处置单 #{case.id}“{case.title[:60]}”：{config.ACTIONS[action]}",
        changes=audit.diff(before, values),
    )
    return add_entry(
        session, case, actor, "transition", text, from_status=before_status, to_status=target
    )


# --- opening --------------------------------------------------------------------------


def _existing(session: Session, source_type: str, source_id: int | None) -> Case | None:
    if source_id is None:
        return None
    found = session.execute(
        select(Case).where(Case.source_type == source_type, Case.source_id == source_id)
    ).scalar_one_or_none()
    if found is None and source_type == "mention":
        linked = select(CaseMention.case_id).where(CaseMention.mention_id == source_id)
        found = session.execute(
            select(Case).where(Case.id.in_(linked)).order_by(Case.id).limit(1)
        ).scalar_one_or_none()
    return found


def _source_of(
    mention_ids: Sequence[int], event_id: int | None, alert_id: int | None
) -> tuple[str, int | None]:
    if alert_id is not None:
        return "alert", alert_id
    if event_id is not None:
        return "event", event_id
    if mention_ids:
        return "mention", mention_ids[0]
    return "manual", None


def open_case(
    session: Session,
    *,
    principal: Principal,
    title: str,
    link: str | None = None,
    summary: str = "",
    mention_ids: Sequence[int] = (),
    event_id: int | None = None,
    alert_id: int | None = None,
) -> Case:
    """Report a case (报送). Opening again from the same mention, event or alert returns the
    case already opened (no second row, no second audit)."""
    if not principal.can(REPORT) and not principal.can(MANAGE):
        raise CasePermissionError("permission", "您的账号没有报送舆情的权限")
    title = " ".join(title.split())[:300]
    if not title:
        raise CaseError("title", "报送舆情需要填写标题")
    source_type, source_id = _source_of(list(mention_ids), event_id, alert_id)
    found = _existing(session, source_type, source_id)
    if found is not None:
        return found
    _check_links(session, mention_ids, event_id)
    now = current_time()
    case = Case(
        title=title,
        link=(link or "").strip() or None,
        summary=summary.strip(),
        status="new",
        reporter_user_id=principal.user_id,
        reporter_unit_id=principal.unit_id,
        created_at=now,
        reported_at=now,
        source_type=source_type,
        source_id=source_id,
    )
    try:
        with savepoint(session):
            session.add(case)
            session.flush()
    except IntegrityError:  # another request opened it at the same moment
        again = _existing(session, source_type, source_id)
        if again is None:
            raise
        return again
    _link(session, case, mention_ids, event_id)
    _record_opening(session, principal, case)
    return case


def _check_links(session: Session, mention_ids: Sequence[int], event_id: int | None) -> None:
    for mention_id in mention_ids:
        if session.get(Mention, mention_id) is None:
            raise CaseError("mention_unknown", f"信息 {mention_id} 不存在")
    if event_id is not None and session.get(Event, event_id) is None:
        raise CaseError("event_unknown", f"事件 {event_id} 不存在")


def _link(session: Session, case: Case, mention_ids: Sequence[int], event_id: int | None) -> None:
    for mention_id in dict.fromkeys(mention_ids):
        session.add(CaseMention(case_id=case.id, mention_id=mention_id))
    if event_id is not None:
        session.add(CaseEvent(case_id=case.id, event_id=event_id))
    session.flush()


def _record_opening(session: Session, principal: Principal, case: Case) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action="create",
        object_type="case",
        object_id=case.id,
        summary=f"报送舆情 #{case.id}“{case.title[:60]}”",
        changes={"title": [None, case.title], "link": [None, case.link]},
    )
    entry = add_entry(
        session, case, principal.actor, "transition", f"报送：{case.title}", to_status="new"
    )
    notify_case(
        session,
        case,
        title=f"新报送舆情：{case.title}",
        text="\n".join(
            x for x in (case.link or "", case.summary[:300], f"报送人：{principal.actor.name}") if x
        ),
        recipients=publicity_recipients(session),
        dedupe_key=f"case:{case.id}:open:{entry.id}",
    )


def open_from_mention(session: Session, *, principal: Principal, mention_id: int) -> Case:
    """Report the incident a collected item is about (its title and link)."""
    return open_from_mentions(session, principal=principal, mention_ids=[mention_id])


def open_from_mentions(
    session: Session, *, principal: Principal, mention_ids: Sequence[int]
) -> Case:
    """Report the incident collected items are about (信息流's batch 开启处置): the first
    item's title and link, every item linked. Opening again from the same first item
    returns its case."""
    if not mention_ids:
        raise CaseError("mention_unknown", "没有选中信息")
    mention_id = mention_ids[0]
    mention = session.get(Mention, mention_id)
    if mention is None:
        raise CaseError("mention_unknown", f"信息 {mention_id} 不存在")
    title = mention.title or mention.text[:60]
    return open_case(
        session,
        principal=principal,
        title=title or f"信息 {mention_id}",
        link=mention.url,
        summary=mention.text[:500],
        mention_ids=list(mention_ids),
    )


def open_from_event(session: Session, *, principal: Principal, event_id: int) -> Case:
    """Report an event (its title, and the link of its representative item)."""
    event = session.get(Event, event_id)
    if event is None:
        raise CaseError("event_unknown", f"事件 {event_id} 不存在")
    rep = session.get(Mention, event.representative_id) if event.representative_id else None
    return open_case(
        session,
        principal=principal,
        title=event.title or f"事件 {event_id}",
        link=rep.url if rep else None,
        summary=(rep.text[:500] if rep else ""),
        mention_ids=[rep.id] if rep else [],
        event_id=event_id,
    )


def open_from_alert(session: Session, *, principal: Principal, alert_id: int) -> Case:
    """Report what an alert fired on (its mention and event are linked)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise CaseError("alert_unknown", f"预警 {alert_id} 不存在")
    mention = session.get(Mention, alert.mention_id) if alert.mention_id else None
    event_id = alert.event_id if alert.event_id and session.get(Event, alert.event_id) else None
    return open_case(
        session,
        principal=principal,
        title=alert.title or alert.rule_name or f"预警 {alert_id}",
        link=mention.url if mention else None,
        summary=mention.text[:500] if mention else "",
        mention_ids=[mention.id] if mention else [],
        event_id=event_id,
        alert_id=alert_id,
    )


# --- transitions ----------------------------------------------------------------------


def triage(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    grade_key: str,
    summary: str | None = None,
) -> Case:
    """研判: set the grade; its clocks start (back-dated to the report where they run from it)."""
    _guard(case, principal, "triage")
    grade = grade_by_key(session, grade_key)
    values: dict[str, Any] = {"grade_id": grade.id}
    if summary is not None and summary.strip():
        values["summary"] = summary.strip()
    _apply(
        session,
        principal=principal,
        case=case,
        action="triage",
        text=f"研判定级：{grade.name}"
        + (f"。{summary.strip()}" if summary and summary.strip() else ""),
        values=values,
        regrade=True,
    )
    return case


def _assignee(session: Session, unit: Unit, person_id: int | None) -> Person:
    person_id = person_id if person_id is not None else unit.head_person_id
    if person_id is None:
        raise CaseError("no_responsible", f"该单位没有指定负责人（{unit.name}），请指定承办人")
    person = session.get(Person, person_id)
    if person is None or not person.active:
        raise CaseError("person_unknown", f"承办人 {person_id} 不存在或已停用")
    return person


def assign(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    unit_id: int,
    person_id: int | None = None,
) -> Case:
    """下发: hand the case to a unit and its responsible person (the unit head by default)."""
    _guard(case, principal, "assign")
    if case.grade_id is None:
        raise CaseError("no_grade", "请先研判定级，再下发")
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise CaseError("unit_unknown", f"单位 {unit_id} 不存在")
    person = _assignee(session, unit, person_id)
    entry = _apply(
        session,
        principal=principal,
        case=case,
        action="assign",
        text=f"下发至 {unit.name}，承办人 {person.name}",
        values={"unit_id": unit.id, "assignee_person_id": person.id},
    )
    recipients = [Recipient(kind="person", id=person.id)]
    if unit.head_person_id and unit.head_person_id != person.id:
        recipients.append(Recipient(kind="person", id=unit.head_person_id))
    notify_case(
        session,
        case,
        title=f"舆情处置任务：{case.title}",
        text=_deadlines_text(session, case),
        recipients=recipients,
        dedupe_key=f"case:{case.id}:assign:{entry.id}",
        level=_grade_level(session, case),
    )
    return case


def _deadlines_text(session: Session, case: Case) -> str:
    lines = [case.link or "", case.summary[:300]]
    for view in timers_of(session, case):
        if view.state in {"running", "overdue"}:
            guess = f"（{view.rule_label}）" if view.rule_guessed else ""
            lines.append(f"{view.label}时限：{format_local(view.due_at)} 前{guess}")
    return "\n".join(x for x in lines if x)


def start(session: Session, *, principal: Principal, case: Case) -> Case:
    """处置中: the unit has taken the case (签收)."""
    _guard(case, principal, "start")
    _apply(session, principal=principal, case=case, action="start", text="签收，开始处置")
    return case


def _response_events(response_text: str | None, response_url: str | None) -> list[str]:
    return ["info_published", "responded"] if (response_text or response_url) else []


def give_feedback(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    feedback_text: str,
    response_text: str | None = None,
    response_url: str | None = None,
) -> Case:
    """已反馈: the unit's report (what was found and done) and, if any, the official response
    and where it was published. The case then waits for the office's review (审核)."""
    _guard(case, principal, "give_feedback")
    text = (feedback_text or "").strip()
    if not text:
        raise CaseError("feedback_empty", "反馈内容不能为空")
    values: dict[str, Any] = {"feedback_text": text}
    if response_text and response_text.strip():
        values["response_text"] = response_text.strip()
    if response_url and response_url.strip():
        values["response_url"] = response_url.strip()
    entry = _apply(
        session,
        principal=principal,
        case=case,
        action="give_feedback",
        text=f"反馈：{text}",
        values=values,
        events=_response_events(values.get("response_text"), values.get("response_url")),
    )
    notify_case(
        session,
        case,
        title=f"舆情处置已反馈，待审核：{case.title}",
        text=text[:500],
        recipients=publicity_recipients(session),
        dedupe_key=f"case:{case.id}:feedback:{entry.id}",
        level="info",
    )
    return case


def record_response(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    response_text: str,
    response_url: str | None = None,
    kind: Literal["info", "public"] = "public",
) -> Case:
    """Record the official text (权威信息 or 公开回应) before the feedback; it stops the
    clocks waiting for it. Not a status change."""
    if case.status == "closed" or not _may(principal, case, "handle"):
        raise CasePermissionError("permission", "只有宣传部或承办单位可以登记回应，且处置单未办结")
    text = response_text.strip()
    if not text:
        raise CaseError("response_empty", "回应内容不能为空")
    now = current_time()
    events = ["info_published"] if kind == "info" else ["info_published", "responded"]
    marks = {e for e in events if getattr(case, STAMP[e]) is None}
    before = {"response_text": case.response_text, "response_url": case.response_url}
    case.response_text, case.response_url = text, (response_url or "").strip() or None
    for event in marks:
        setattr(case, STAMP[event], now)
    session.flush()
    _update_clocks(session, case, marks, case.status, now, regrade=False)
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="case",
        object_id=case.id,
        summary=f"舆情处置单 #{case.id}：登记{'权威信息' if kind == 'info' else '公开回应'}",
        changes=audit.diff(before, {"response_text": text, "response_url": case.response_url}),
    )
    add_entry(
        session,
        case,
        principal.actor,
        "comment",
        f"登记{'权威信息' if kind == 'info' else '公开回应'}：{text}",
    )
    return case


def accept(session: Session, *, principal: Principal, case: Case, note: str | None = None) -> Case:
    """审核通过: the office accepts the unit's feedback; the case waits for 办结."""
    _guard(case, principal, "accept")
    extra = f"：{note.strip()}" if note and note.strip() else ""
    _apply(session, principal=principal, case=case, action="accept", text="审核通过" + extra)
    return case


def return_for_more(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """退回补充: the office asks the unit for more; clocks pause if their policy says so."""
    _guard(case, principal, "return_for_more")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "退回需要说明原因")
    entry = _apply(
        session, principal=principal, case=case, action="return_for_more", text=f"退回补充：{text}"
    )
    notify_case(
        session,
        case,
        title=f"舆情处置被退回补充：{case.title}",
        text=text,
        recipients=responsible_recipients(session, case),
        dedupe_key=f"case:{case.id}:return:{entry.id}",
    )
    return case


def close(
    session: Session,
    *,
    principal: Principal,
    case: Case,
    lessons: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> Case:
    """办结: after review; or straight from 新报送/研判 when no handling is needed, which
    needs a note in ``lessons`` saying why. Every running clock stops."""
    _guard(case, principal, "close")
    note = (lessons or "").strip()
    if case.status != "review" and not note:
        raise CaseError("close_reason", "未经处置直接办结，需要在经验教训中说明原因")
    words = tags.split() if isinstance(tags, str) else list(tags or [])
    values: dict[str, Any] = {
        "lessons": note or case.lessons,
        "tags": " ".join(dict.fromkeys(words))[:500],
    }
    _apply(
        session,
        principal=principal,
        case=case,
        action="close",
        text="办结" + (f"：{note}" if note else ""),
        values=values,
    )
    return case


def escalate(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """上报: the unit cannot handle it; it goes back to the publicity office and the leading
    group at once."""
    _guard(case, principal, "escalate")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "上报需要说明原因")
    entry = _apply(session, principal=principal, case=case, action="escalate", text=f"上报：{text}")
    notify_case(
        session,
        case,
        title=f"舆情上报：{case.title}",
        text=f"{text}\n上报人：{principal.actor.name}",
        recipients=publicity_recipients(session) + leading_group_recipients(session),
        dedupe_key=f"case:{case.id}:escalate:{entry.id}",
        level="urgent",
    )
    return case


def reopen(session: Session, *, principal: Principal, case: Case, reason: str) -> Case:
    """重新打开 a closed case; it goes on by 研判 or 下发, and its clocks that run from the
    report start again from now."""
    _guard(case, principal, "reopen")
    text = (reason or "").strip()
    if not text:
        raise CaseError("reason_empty", "重新打开需要说明原因")
    _apply(
        session,
        principal=principal,
        case=case,
        action="reopen",
        text=f"重新打开：{text}",
        events=(),
    )
    _update_clocks(session, case, {"new"}, "reopened", current_time(), regrade=False)
    return case


# --- links and comments ---------------------------------------------------------------


def _check_edit(principal: Principal, case: Case) -> None:
    if case.status == "closed" or not _may(principal, case, "handle"):
        raise CasePermissionError(
            "permission", "只有宣传部或承办单位可以修改未办结处置单的关联信息"
        )


def attach_mentions(
    session: Session, *, principal: Principal, case: Case, mention_ids: Sequence[int]
) -> list[int]:
    """Link more items to the case; returns those newly linked."""
    _check_edit(principal, case)
    _check_links(session, mention_ids, None)
    have = set(mention_ids_of(session, case))
    new = [m for m in dict.fromkeys(mention_ids) if m not in have]
    if not new:
        return []
    _link(session, case, new, None)
    _log_links(session, principal, case, "attach", new)
    return new


def detach_mentions(
    session: Session, *, principal: Principal, case: Case, mention_ids: Sequence[int]
) -> list[int]:
    """Unlink items from the case; returns those unlinked."""
    _check_edit(principal, case)
    have = set(mention_ids_of(session, case))
    gone = [m for m in dict.fromkeys(mention_ids) if m in have]
    if not gone:
        return []
    session.execute(
        delete(CaseMention).where(CaseMention.case_id == case.id, CaseMention.mention_id.in_(gone))
    )
    _log_links(session, principal, case, "detach", gone)
    return gone


def _log_links(
    session: Session, principal: Principal, case: Case, kind: str, ids: list[int]
) -> None:
    verb = "关联" if kind == "attach" else "取消关联"
    listed = "、".join(str(i) for i in ids)
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="case",
        object_id=case.id,
        summary=f"舆情处置单 #{case.id}：{verb}信息 {listed}",
        changes={"mentions": [None, ids] if kind == "attach" else [ids, None]},
    )
    add_entry(session, case, principal.actor, kind, f"{verb}信息 {listed}")


def comment(session: Session, *, principal: Principal, case: Case, text: str) -> CaseEntry:
    """A note on the timeline by anyone who may see the case."""
    if not sees_case(principal, case) or not principal.can(READ):
        raise CaseNotFound(f"舆情处置单 {case.id} 不存在或不在您的查看范围内")
    body = (text or "").strip()
    if not body:
        raise CaseError("comment_empty", "备注内容不能为空")
    audit.record(
        session,
        actor=principal.actor,
        action="update",
        object_type="case",
        object_id=case.id,
        summary=f"舆情处置单 #{case.id}：备注",
    )
    return add_entry(session, case, principal.actor, "comment", body[:5000])


# --- the board and the figures --------------------------------------------------------


def board(session: Session, *, principal: Principal, now: datetime | None = None) -> list[BoardRow]:
    """Open cases the principal sees, the nearest deadline first (overdue on top)."""
    now = now or current_time()
    cases, _total = list_cases(session, principal=principal, closed=False, limit=1000)
    if not cases:
        return []
    ids = [c.id for c in cases]
    running = session.execute(
        select(CaseTimer).where(CaseTimer.case_id.in_(ids), CaseTimer.satisfied_at.is_(None))
    ).scalars()
    nearest: dict[int, tuple[float, CaseTimer]] = {}
    for timer in running:
        _state, left = timer_state(timer, now)
        if timer.case_id not in nearest or left < nearest[timer.case_id][0]:
            nearest[timer.case_id] = (left, timer)
    grades = {g.id: g for g in list_grades(session)}
    names = _names(session, cases)
    rows = [_board_row(c, nearest.get(c.id), grades.get(c.grade_id or 0), names) for c in cases]
    return sorted(rows, key=lambda r: (r.seconds_left is None, r.seconds_left or 0.0, r.case_id))


def _names(session: Session, cases: list[Case]) -> dict[tuple[str, int], str]:
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
        status_label=status_label(case.status),
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


def accountability(
    session: Session, *, month: date, now: datetime | None = None
) -> list[UnitFigures]:
    """Per unit, the cases assigned to it in the month: how many, each clock met or missed,
    cases with a missed clock, and the average hours from assignment to feedback."""
    now = now or current_time()
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
    names = _names(session, cases)
    figures: dict[int, UnitFigures] = {}
    hours: dict[int, list[float]] = {}
    for case in cases:
        unit_id = case.unit_id or 0
        fig = figures.setdefault(unit_id, UnitFigures(unit_id, names.get(("unit", unit_id), "")))
        fig.received += 1
        late = False
        for timer in timers.get(case.id, []):
            state, _left = timer_state(timer, now)
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
