"""Delivery of reports through notify's outbox, and what the desk knows of it.

A report counts as sent only once one of its deliveries went through: ``record_deliveries``
(run every minute with the schedule) marks it, with the version current when it was queued.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.cases import service as cases
from yuqing.notify import service as notify
from yuqing.notify.models import Notification
from yuqing.notify.schemas import Message
from yuqing.reports import store
from yuqing.reports.models import Report, ReportVersion

SOURCE_TYPE = "report"
RECIPIENTS_TEXT = "担任职责角色“宣传部管理员”的人员（邮件和站内消息）"


def deliver(session: Session, *, report: Report) -> int:
    """Queue the report for the publicity office; the number of deliveries queued (0: there
    is nobody to send it to, and the report stays unsent)."""
    version = store.get_latest_version(session, report=report)
    content = store.content_of(version)
    overview = content.sections[0].paragraphs[0].text if content.sections else ""
    # A desk path: the outbox makes it absolute with the public address when it sends.
    link = f"/reports/{report.id}/download?format=docx"
    message = Message(title=content.title, text=overview, link=link, link_label="下载报告（Word）")
    rows = notify.enqueue(
        session,
        message=message,
        recipients=cases.list_publicity_recipients(session),
        dedupe_key=f"report:{report.id}",
        source_type=SOURCE_TYPE,
        source_id=report.id,
    )
    return len(rows)


def record_deliveries(session: Session) -> int:
    """Mark reports sent whose delivery went through: the version sent is the one current
    when it was queued, the time is the first delivery's. The number marked."""
    statement = (
        select(
            Notification.source_id,
            func.min(Notification.delivered_at),
            func.min(Notification.created_at),
        )
        .join(Report, Report.id == Notification.source_id)
        .where(
            Notification.source_type == SOURCE_TYPE,
            Notification.state == "delivered",
            Report.sent_version_id.is_(None),
        )
        .group_by(Notification.source_id)
    )
    marked = 0
    for report_id, delivered_at, queued_at in session.execute(statement).all():
        version = session.execute(
            select(ReportVersion)
            .where(ReportVersion.report_id == report_id, ReportVersion.created_at <= queued_at)
            .order_by(ReportVersion.number.desc())
            .limit(1)
        ).scalar_one_or_none()
        report = session.get(Report, report_id)
        if report is None:
            continue
        version = version or store.get_latest_version(session, report=report)
        version.sent_at = delivered_at
        report.sent_version_id = version.id
        marked += 1
    return marked


@dataclass
class DeliveryStatus:
    """Where a report went: each delivery (to whom, how, when, its state); ``sent_at`` is
    the first that went through; ``nobody`` says, when nothing was queued and nothing could
    be, that there is nobody to send it to."""

    rows: list[notify.DeliveryView] = field(default_factory=list)
    sent_at: datetime | None = None
    nobody: bool = False
    recipients: str = RECIPIENTS_TEXT


def get_delivery_status(session: Session, *, report: Report) -> DeliveryStatus:
    """Where the report went, as its page shows it."""
    rows = notify.list_for_sources(session, source_type=SOURCE_TYPE, source_ids=[report.id])
    views = notify.describe(session, rows=rows.get(report.id, []))
    delivered = [v.delivered_at for v in views if v.state == "delivered" and v.delivered_at]
    recipients = cases.list_publicity_recipients(session)
    nobody = not views and notify.count_reachable(session, recipients=recipients) == 0
    return DeliveryStatus(views, min(delivered) if delivered else None, nobody)


def list_sent_report_ids(session: Session, *, report_ids: list[int]) -> set[int]:
    """Which of ``report_ids`` have a delivery that went through (recorded or not yet)."""
    rows = notify.list_for_sources(session, source_type=SOURCE_TYPE, source_ids=report_ids)
    return {i for i, sent in rows.items() if any(n.state == "delivered" for n in sent)}
