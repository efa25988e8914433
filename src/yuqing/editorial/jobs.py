"""Timed work of the editorial desk: the deadline reminders of submissions (like the cases'
clocks): the writer hears "due soon" a few hours before, and the writer and the unit head
hear "overdue" once it has passed. Each message is claimed by one conditional UPDATE, so two
runners never send it twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from yuqing.core.timeutil import format_local
from yuqing.editorial import config
from yuqing.editorial.models import Submission
from yuqing.editorial.review import notify_about, writer_recipients
from yuqing.notify.schemas import Recipient
from yuqing.org import service as org


@dataclass
class DeadlineReport:
    reminded: int = 0
    overdue: int = 0


def _claim(session: Session, row: Submission, column: str, now: datetime) -> bool:
    stamp = getattr(Submission, column)
    claimed = session.execute(
        update(Submission)
        .where(Submission.id == row.id, stamp.is_(None))
        .values({column: now})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(claimed, "rowcount", 0) == 1)


def _unit_head(session: Session, row: Submission) -> list[Recipient]:
    unit = org.get_unit(session, unit_id=row.unit_id) if row.unit_id else None
    if unit is None or unit.head_person_id is None:
        return []
    return [Recipient(kind="person", id=unit.head_person_id)]


def run_deadlines(session: Session, now: datetime) -> DeadlineReport:
    """Send the reminders that are due now (the caller commits)."""
    report = DeadlineReport()
    soon = now + timedelta(hours=config.REMIND_HOURS_BEFORE)
    rows = session.execute(
        select(Submission).where(
            Submission.state.in_(("draft", "returned")),
            Submission.due_at.is_not(None),
            Submission.due_at <= soon,
            Submission.overdue_told_at.is_(None),
        )
    ).scalars()
    for row in list(rows):
        assert row.due_at is not None
        if row.due_at <= now:
            if _claim(session, row, "overdue_told_at", now):
                notify_about(
                    session,
                    submission=row,
                    title=f"稿件已超过报送时限：{row.title}",
                    text=f"报送时限 {format_local(row.due_at)}（{row.due_rule or ''}）",
                    recipients=writer_recipients(row, session) + _unit_head(session, row),
                    key=f"editorial:{row.id}:overdue",
                )
                report.overdue += 1
        elif row.reminded_at is None and _claim(session, row, "reminded_at", now):
            notify_about(
                session,
                submission=row,
                title=f"稿件即将到期：{row.title}",
                text=f"请在 {format_local(row.due_at)} 前提交审核",
                recipients=writer_recipients(row, session),
                key=f"editorial:{row.id}:due-soon",
            )
            report.reminded += 1
    return report
