"""The SLA clocks of a case (时限): when each starts, pauses, stops, and how it stands now.

A transition reports the marks it reached (a status, or an official text recorded) to
``update_clocks``; the grade's clock rules (``grades.list_clocks``) say which timers start,
stop or pause on them. ``current_time`` is the time every transition stamps: tests replay a
day by setting it (naive UTC), so the case modules read it from here at each call.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.cases import calendar, config, grades
from yuqing.cases.models import Case, CaseTimer, SlaClock
from yuqing.cases.schemas import TimerView
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow

current_time: Callable[[], datetime] = utcnow

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


def list_timer_rows(session: Session, *, case: Case) -> dict[str, CaseTimer]:
    """The case's timers (one per clock it has run) by clock key."""
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
    for _share, column in config.REMINDERS:
        setattr(timer, column, None)
    timer.last_escalated_at = None
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
    policy = grades.list_clocks(session, grade_id=case.grade_id)
    timers = list_timer_rows(session, case=case)
    days_off, workdays = grades.list_closures(session), calendar.load(session)
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


def update_clocks(
    session: Session, *, case: Case, marks: set[str], before: str, now: datetime, regrade: bool
) -> None:
    """Resume, start, stop and pause the case's clocks for the marks just reached."""
    for timer in list_timer_rows(session, case=case).values():
        if before == "returned":
            _resume(timer, now)
    _start_clocks(session, case, marks, now, regrade=regrade)
    policy = grades.list_clocks(session, grade_id=case.grade_id)
    for timer in list_timer_rows(session, case=case).values():
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


def list_timers(session: Session, *, case: Case, now: datetime | None = None) -> list[TimerView]:
    """The case's clocks as the page shows them, nearest deadline first."""
    now = now or current_time()
    views = []
    for timer in list_timer_rows(session, case=case).values():
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
