"""Stored reports with versions, each reader's version of one, and the scheduled daily
digest delivered through notify."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.auth.service import permission_label
from yuqing.cases.service import publicity_recipients
from yuqing.core.timeutil import local_zone
from yuqing.notify import service as notify
from yuqing.notify.models import Notification
from yuqing.notify.schemas import Message
from yuqing.reports import service
from yuqing.reports.models import Report, ReportVersion
from yuqing.reports.schemas import ReportAccessError, ReportContent, ReportError

# Whoever holds it reads the institution's report as stored (versions, edits, every unit);
# anyone else who reads reports gets one made for their units when they open it.
ALL = "reports.all"
BUILDERS = {"daily": service.daily, "weekly": service.weekly, "monthly": service.monthly}


def daily_at() -> time:
    """When the daily digest is made, local time (YUQING_REPORT_DAILY_AT, default 09:30)."""
    value = os.environ.get("YUQING_REPORT_DAILY_AT", "09:30")
    try:
        return time.fromisoformat(value)
    except ValueError:
        raise ReportError(f"YUQING_REPORT_DAILY_AT 的值 {value!r} 不是 HH:MM 时间") from None


def save(session: Session, content: ReportContent, *, subject_id: int = 0) -> Report:
    """Store ``content`` as version 1 of a new report, or as the next version of the same
    report (kind, period, subject); the caller commits."""
    report = session.execute(
        select(Report).where(
            Report.kind == content.kind,
            Report.period_start == content.period_start,
            Report.subject_id == subject_id,
        )
    ).scalar_one_or_none()
    if report is None:
        report = Report(
            kind=content.kind,
            title=content.title,
            period_start=content.period_start,
            period_end=content.period_end,
            subject_id=subject_id,
        )
        session.add(report)
        session.flush()
    add_version(session, report, content, edited_by="")
    return report


def add_version(
    session: Session, report: Report, content: ReportContent, *, edited_by: str
) -> ReportVersion:
    """A new version; earlier ones, and the sent one, stay as they were."""
    number = session.execute(
        select(func.coalesce(func.max(ReportVersion.number), 0)).where(
            ReportVersion.report_id == report.id
        )
    ).scalar_one()
    version = ReportVersion(
        report_id=report.id,
        number=int(number) + 1,
        text=content.plain_text(),
        content=content.model_dump_json(),
        edited_by=edited_by,
    )
    session.add(version)
    session.flush()
    return version


def latest(session: Session, report: Report) -> ReportVersion:
    """The newest version of ``report`` (every report has at least one)."""
    statement = (
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .order_by(ReportVersion.number.desc())
        .limit(1)
    )
    return session.execute(statement).scalar_one()


def content_of(version: ReportVersion) -> ReportContent:
    return ReportContent.model_validate_json(version.content)


def whole(reader: Principal) -> bool:
    """Whether ``reader`` reads the institution's report itself."""
    return reader.can(ALL)


def for_reader(
    session: Session, *, report: Report, reader: Principal, now: datetime
) -> ReportContent:
    """What ``reader`` reads of ``report``: its newest version for a reader with
    ``reports.all``; for anyone else the same kind and period built now for the reader's
    units, without the office's edits. A 专报 has no such version: its advice is the office's
    own text about the event and whichever unit handles it, so it raises ReportAccessError."""
    if whole(reader):
        return content_of(latest(session, report))
    build = BUILDERS.get(report.kind)
    if build is None:
        raise ReportAccessError(
            f"专报面向全校，只提供给有“{permission_label(ALL)}”权限的账号；事件本身可在事件页查看"
        )
    day = report.period_start.replace(tzinfo=UTC).astimezone(local_zone()).date()
    return build(session, day=day, now=now, reader=reader)


def edit_paragraph(
    session: Session, *, report: Report, section: int, paragraph: int, text: str, editor: str
) -> ReportVersion:
    """An editor's change of one paragraph's text: a new version (quotes are kept as taken)."""
    content = content_of(latest(session, report))
    try:
        content.sections[section].paragraphs[paragraph].text = text
    except IndexError:
        raise ReportError(
            f"报告 {report.id} 没有第 {section + 1} 部分第 {paragraph + 1} 段"
        ) from None
    return add_version(session, report, content, edited_by=editor)


def mark_sent(session: Session, *, report: Report, now: datetime) -> ReportVersion:
    version = latest(session, report)
    version.sent_at = now
    report.sent_version_id = version.id
    return version


def run_schedule(session: Session, now: datetime) -> Report | None:
    """Call every minute (``now`` naive UTC): record reports whose delivery went through,
    then, from the configured time on, make yesterday's daily digest once and put it in the
    outbox (e-mail with the file link, the desk inbox). It counts as sent only once one of
    those deliveries succeeded. Returns the report made this call, else None; the caller
    commits."""
    record_deliveries(session)
    local = now.replace(tzinfo=UTC).astimezone(local_zone())
    if local.time() < daily_at():
        return None
    day = local.date() - timedelta(days=1)
    start, _end = service.day_bounds(day)
    exists = session.execute(
        select(Report.id).where(
            Report.kind == "daily", Report.period_start == start, Report.subject_id == 0
        )
    ).first()
    if exists:
        return None
    report = save(session, service.daily(session, day=day, now=now))
    _deliver(session, report, now)
    return report


def _deliver(session: Session, report: Report, now: datetime) -> int:
    """Queue the report for the publicity office; the number of deliveries queued (0: there
    is nobody to send it to, and the report stays unsent)."""
    version = latest(session, report)
    content = content_of(version)
    overview = content.sections[0].paragraphs[0].text if content.sections else ""
    # A desk path: the outbox makes it absolute with the public address when it sends.
    link = f"/reports/{report.id}/download?format=docx"
    message = Message(title=content.title, text=overview, link=link, link_label="下载报告（Word）")
    rows = notify.enqueue(
        session,
        message=message,
        recipients=publicity_recipients(session),
        dedupe_key=f"report:{report.id}",
        source_type=SOURCE_TYPE,
        source_id=report.id,
    )
    return len(rows)


SOURCE_TYPE = "report"
RECIPIENTS_TEXT = "担任职责角色“宣传部管理员”的人员（邮件和站内消息）"


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
        version = version or latest(session, report)
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


def delivery_status(session: Session, *, report: Report) -> DeliveryStatus:
    rows = notify.list_for_sources(session, source_type=SOURCE_TYPE, source_ids=[report.id])
    views = notify.describe(session, rows=rows.get(report.id, []))
    delivered = [v.delivered_at for v in views if v.state == "delivered" and v.delivered_at]
    nobody = (
        not views and notify.count_reachable(session, recipients=publicity_recipients(session)) == 0
    )
    return DeliveryStatus(views, min(delivered) if delivered else None, nobody)


def sent_reports(session: Session, report_ids: list[int]) -> set[int]:
    """Which of ``report_ids`` have a delivery that went through (recorded or not yet)."""
    if not report_ids:
        return set()
    statement = select(Notification.source_id).where(
        Notification.source_type == SOURCE_TYPE,
        Notification.source_id.in_(report_ids),
        Notification.state == "delivered",
    )
    return {int(i) for i in session.execute(statement.distinct()).scalars() if i is not None}
