"""Versions of a report and the scheduled daily digest."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.notify.models import Notification
from yuqing.reports import jobs, service
from yuqing.reports.models import Report, ReportVersion

from .conftest import Known


def test_schedule_makes_the_daily_once_after_0930(session: Session, known: Known) -> None:
    assert jobs.run_schedule(session, datetime(2024, 3, 6, 1, 29)) is None  # 09:29 local
    report = jobs.run_schedule(session, datetime(2024, 3, 6, 1, 30))
    assert report is not None and report.title == "每日舆情（2024年03月05日）"
    assert jobs.run_schedule(session, datetime(2024, 3, 6, 1, 31)) is None
    session.commit()
    assert session.execute(select(func.count()).select_from(Report)).scalar_one() == 1
    # Nobody holds the publicity role here: nothing was sent, so it is not marked sent.
    assert report.sent_version_id is None
    rows = session.execute(
        select(Notification).where(Notification.source_type == "report")
    ).scalars()
    for row in rows:
        assert f"/reports/{report.id}/download" in row.payload


def test_edit_adds_a_version_and_keeps_the_sent_one(session: Session, known: Known) -> None:
    report = jobs.run_schedule(session, datetime(2024, 3, 6, 2, 0))
    assert report is not None
    service.update_sent_version(
        session, report=report, now=datetime(2024, 3, 6, 2, 5)
    )  # sent by hand
    before = service.get_latest_version(session, report=report).text
    service.update_paragraph(
        session, report=report, section=0, paragraph=0, text="编辑改写的概述。", editor="赵干事"
    )
    session.commit()
    latest = service.get_latest_version(session, report=report)
    assert latest.number == 2 and latest.edited_by == "赵干事" and "编辑改写的概述。" in latest.text
    sent = session.get(ReportVersion, report.sent_version_id)
    assert sent is not None and sent.number == 1 and sent.text == before
