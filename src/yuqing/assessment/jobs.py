"""Timed work of the team, run every minute by the worker: registration reminders before a
round's deadline, and last month's bulletin on the configured day, made and sent once."""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

from sqlalchemy.orm import Session

from yuqing.assessment import bulletin, config
from yuqing.assessment.models import Bulletin
from yuqing.assessment.schemas import AssessmentError, Month
from yuqing.core.audit import SYSTEM
from yuqing.core.timeutil import local_zone
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message, Recipient
from yuqing.org import rounds
from yuqing.org import service as org


def bulletin_at() -> time:
    value = os.environ.get("YUQING_BULLETIN_AT", config.BULLETIN_AT)
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise AssessmentError(f"YUQING_BULLETIN_AT 的值 {value!r} 不是 HH:MM 时间") from None


def remind_registration(session: Session, now: datetime) -> int:
    """Once per round, REMIND_BEFORE_HOURS before its deadline: every unit that has not
    handed in its form hears it (its head, else its people). Returns the units reminded."""
    reminded = 0
    for found in rounds.list_rounds(session):
        if found.reminded_at or found.closed_at or found.deadline <= now:
            continue
        if found.deadline - now > timedelta(hours=config.REMIND_BEFORE_HOURS):
            continue
        for form in rounds.list_not_submitted(session, round_id=found.id):
            unit = org.get_unit(session, unit_id=form.unit_id)
            if unit is None:
                continue
            to = (
                Recipient(kind="person", id=unit.head_person_id)
                if unit.head_person_id
                else Recipient(kind="unit", id=unit.id)
            )
            notify.enqueue(
                session,
                message=Message(
                    title=f"请按时提交“{found.title}”登记表",
                    text=f"截止时间：{found.deadline.replace(tzinfo=UTC).astimezone(local_zone()):%Y-%m-%d %H:%M}",
                    level="warning",
                    link=f"/team/rounds/{found.id}/units/{unit.id}",
                ),
                recipients=[to],
                dedupe_key=f"round:{found.id}:remind:{unit.id}",
                source_type="registration_round",
                source_id=found.id,
            )
            reminded += 1
        found.reminded_at = now
    return reminded


def run_schedule(session: Session, now: datetime) -> Bulletin | None:
    """Call every minute (``now`` naive UTC): reminders, then on BULLETIN_DAY from the
    configured time on, last month's bulletin made and queued once. The caller commits."""
    remind_registration(session, now)
    local = now.replace(tzinfo=UTC).astimezone(local_zone())
    if local.day != config.BULLETIN_DAY or local.time() < bulletin_at():
        return None
    month = Month.of(local.date()).previous()
    existing = bulletin.get_bulletin(session, month=month)
    if existing is not None and existing.sent_at is not None:
        return None
    row = bulletin.make(session, month=month, actor=SYSTEM)
    bulletin.send(session, row=row)
    if row.sent_at is None:  # nobody to send it to: keep it, and do not retry every minute
        row.sent_at = now
    return row
