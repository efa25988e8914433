"""Timed work of cases, run every minute by the worker: reminders and escalation of late cases.

Each running clock gets a reminder to the responsible person at the shares of its time in
``config.REMINDERS`` (the assignee; before assignment, the publicity office). Once overdue
it climbs one step of ``config.ESCALATION_STEPS`` per interval (30 minutes by default): at
the deadline the unit head, 30 minutes later the publicity office, 60 minutes later the
leading group. A step is claimed by a conditional UPDATE of the timer row and sent through
the outbox with a dedupe key, in the same transaction, so running twice, in two processes,
or again after a crash never sends a message twice and never loses one (an uncommitted
claim rolls back with its message). Paused clocks (a case returned for more information)
neither remind nor escalate.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.cases import config, recipients, timeline
from yuqing.cases.models import Case, CaseTimer
from yuqing.cases.schemas import TimerReport
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import format_local, utcnow
from yuqing.notify.schemas import Recipient


def run_timers(session: Session, now: datetime | None = None) -> TimerReport:
    """Send the reminders and escalation steps due at ``now`` (naive UTC, default: the
    current time) in the caller's transaction; the caller commits."""
    now = now or utcnow()
    report = TimerReport()
    statement = (
        select(CaseTimer, Case)
        .join(Case, Case.id == CaseTimer.case_id)
        .where(
            CaseTimer.satisfied_at.is_(None),
            CaseTimer.paused_at.is_(None),
            Case.status != "closed",
        )
        .order_by(CaseTimer.due_at, CaseTimer.id)
    )
    for timer, case in session.execute(statement).all():
        report.checked += 1
        if now >= timer.due_at:
            _escalate(session, timer, case, now, report)
        else:
            _remind(session, timer, case, now, report)
    return report


def _generation(timer: CaseTimer) -> int:
    """Tells a restarted clock (重新打开) from its earlier run in the dedupe keys."""
    return int(timer.started_at.timestamp())


def _key(timer: CaseTimer, what: str) -> str:
    return f"case:{timer.case_id}:{timer.clock}:{_generation(timer)}:{what}"


def _claim(session: Session, timer: CaseTimer, **where_values: tuple[object, object]) -> bool:
    """Set fields of the timer only if they still hold their old value; True when this run
    won the claim (another run, or an earlier one, may have done it)."""
    conditions: list[Any] = []
    values: dict[str, object] = {}
    for name, (old, new) in where_values.items():
        column = getattr(CaseTimer, name)
        conditions.append(column.is_(None) if old is None else column == old)
        values[name] = new
    result = session.execute(
        update(CaseTimer)
        .where(CaseTimer.id == timer.id, *conditions)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def _remind(
    session: Session, timer: CaseTimer, case: Case, now: datetime, report: TimerReport
) -> None:
    length = (timer.due_at - timer.started_at).total_seconds() - timer.paused_seconds
    elapsed = (now - timer.started_at).total_seconds() - timer.paused_seconds
    if length <= 0:
        return
    due = [(share, column) for share, column in config.REMINDERS if elapsed / length >= share]
    if not due:
        return
    share, column = due[-1]
    if getattr(timer, column) is not None:
        return
    # A late first look (the worker was down) sends only the newest reminder due.
    earlier = {c: (getattr(timer, c), getattr(timer, c) or now) for _s, c in due[:-1]}
    if _claim(session, timer, **{column: (None, now)}, **earlier):
        _send_reminder(session, timer, case, now, round(share * 100), report)


def _send_reminder(
    session: Session, timer: CaseTimer, case: Case, now: datetime, percent: int, report: TimerReport
) -> None:
    label = config.CLOCKS.get(timer.clock, timer.clock)
    left = _duration(timer.due_at - now)
    text = f"{label}时限已过 {percent}%，剩余 {left}，截止 {format_local(timer.due_at)}"
    report.reminders += 1
    _tell(
        session,
        timer,
        case,
        report,
        kind="reminder",
        title=f"舆情处置提醒：{case.title}",
        text=text,
        told=recipients.list_responsible_recipients(session, case=case),
        key=f"remind{percent}",
    )


def _escalate(
    session: Session, timer: CaseTimer, case: Case, now: datetime, report: TimerReport
) -> None:
    step = timer.escalation_step + 1
    if step > len(config.ESCALATION_STEPS):
        return
    interval = timedelta(minutes=config.ESCALATION_INTERVAL_MINUTES)
    if now < timer.due_at + (step - 1) * interval:
        return
    claimed = _claim(
        session,
        timer,
        escalation_step=(timer.escalation_step, step),
        last_escalated_at=(timer.last_escalated_at, now),
    )
    if not claimed:
        return
    label = config.CLOCKS.get(timer.clock, timer.clock)
    late = _duration(now - timer.due_at)
    whom = config.ESCALATION_STEPS[step - 1][1]
    text = f"{label}已超时 {late}（截止 {format_local(timer.due_at)}），第 {step} 级督办：{whom}"
    report.escalations += 1
    _tell(
        session,
        timer,
        case,
        report,
        kind="escalation",
        title=f"舆情处置超时督办：{case.title}",
        text=text,
        told=_step_recipients(session, case, step),
        key=f"escalate{step}",
        level="urgent",
    )


def _tell(
    session: Session,
    timer: CaseTimer,
    case: Case,
    report: TimerReport,
    *,
    kind: str,
    title: str,
    text: str,
    told: list[Recipient],
    key: str,
    level: Literal["info", "warning", "urgent"] = "warning",
) -> None:
    """A reminder's or escalation's timeline entry, its notices (once per ``key`` and timer)
    and its line in the report."""
    timeline.create_entry(session, case=case, actor=SYSTEM, kind=kind, text=text)
    report.notifications += recipients.notify_case(
        session,
        case=case,
        title=title,
        text=text,
        recipients=told,
        dedupe_key=_key(timer, key),
        level=level,
    )
    report.details.append(f"#{case.id} {timer.clock} {key}")


# Who each escalation step of config.ESCALATION_STEPS tells.
_TOLD: dict[str, Callable[[Session, Case], list[Recipient]]] = {
    "unit_head": lambda session, case: recipients.list_unit_head_recipients(session, case=case),
    "publicity": lambda session, _case: recipients.list_publicity_recipients(session),
    "leading_group": lambda session, _case: recipients.list_leading_group_recipients(session),
}


def _step_recipients(session: Session, case: Case, step: int) -> list[Recipient]:
    whom, _label = config.ESCALATION_STEPS[step - 1]
    return _TOLD[whom](session, case)


def _duration(span: timedelta) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if hours >= 24:
        return f"{hours // 24} 天 {hours % 24} 小时"
    return f"{hours} 小时 {minutes} 分钟" if hours else f"{minutes} 分钟"
