"""Timed work of reports, run every minute by the worker: the scheduled daily digest.

From the configured time on (``YUQING_REPORT_DAILY_AT``), yesterday's daily digest is made
once and put in the outbox for the publicity office; deliveries that went through are
recorded first (delivery.py).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.core.timeutil import local_zone
from yuqing.reports import delivery, digests, figures, store
from yuqing.reports.models import Report
from yuqing.reports.schemas import ReportError


def daily_at() -> time:
    """When the daily digest is made, local time (YUQING_REPORT_DAILY_AT, default 09:30)."""
    value = os.environ.get("YUQING_REPORT_DAILY_AT", "09:30")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ReportError(f"YUQING_REPORT_DAILY_AT 的值 {value!r} 不是 HH:MM 时间") from None


def run_schedule(session: Session, now: datetime) -> Report | None:
    """Call every minute (``now`` naive UTC): record reports whose delivery went through,
    then, from the configured time on, make yesterday's daily digest once and put it in the
    outbox (e-mail with the file link, the desk inbox). It counts as sent only once one of
    those deliveries succeeded. Returns the report made this call, else None; the caller
    commits."""
    delivery.record_deliveries(session)
    local = now.replace(tzinfo=UTC).astimezone(local_zone())
    if local.time() < daily_at():
        return None
    day = local.date() - timedelta(days=1)
    start, _end = figures.day_bounds(day)
    exists = session.execute(
        select(Report.id).where(
            Report.kind == "daily", Report.period_start == start, Report.subject_id == 0
        )
    ).first()
    if exists:
        return None
    report = store.create_report(session, content=digests.daily(session, day=day, now=now))
    delivery.deliver(session, report=report)
    return report
