"""Stored reports (报告) and their versions, and what each reader reads of one.

A report is unique on (kind, period, subject); making it again adds a version, an edit adds
a version, and earlier versions (the sent one too) stay as they were. A reader with
``reports.all`` reads the stored institution's report; anyone else gets the same kind and
period built for their own units when they open it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from yuqing.auth.schemas import Principal
from yuqing.auth.service import permission_label
from yuqing.core.timeutil import local_zone
from yuqing.reports import digests
from yuqing.reports.models import Report, ReportVersion
from yuqing.reports.schemas import ReportAccessError, ReportContent, ReportError

# Whoever holds it reads the institution's report as stored (versions, edits, every unit);
# anyone else who reads reports gets one made for their units when they open it.
ALL = "reports.all"
BUILDERS = {"daily": digests.daily, "weekly": digests.weekly, "monthly": digests.monthly}


def create_report(session: Session, *, content: ReportContent, subject_id: int = 0) -> Report:
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
    create_version(session, report=report, content=content, edited_by="")
    return report


def create_version(
    session: Session, *, report: Report, content: ReportContent, edited_by: str
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


def get_latest_version(session: Session, *, report: Report) -> ReportVersion:
    """The newest version of ``report`` (every report has at least one)."""
    statement = (
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .order_by(ReportVersion.number.desc())
        .limit(1)
    )
    return session.execute(statement).scalar_one()


def content_of(version: ReportVersion) -> ReportContent:
    """The typed content stored in a version."""
    return ReportContent.model_validate_json(version.content)


def whole(reader: Principal) -> bool:
    """Whether ``reader`` reads the institution's report itself."""
    return reader.can(ALL)


def get_reader_content(
    session: Session, *, report: Report, reader: Principal, now: datetime
) -> ReportContent:
    """What ``reader`` reads of ``report``: its newest version for a reader with
    ``reports.all``; for anyone else the same kind and period built now for the reader's
    units, without the office's edits. A 专报 has no such version: its advice is the office's
    own text about the event and whichever unit handles it, so it raises ReportAccessError."""
    if whole(reader):
        return content_of(get_latest_version(session, report=report))
    build = BUILDERS.get(report.kind)
    if build is None:
        raise ReportAccessError(
            f"专报面向全校，只提供给有“{permission_label(ALL)}”权限的账号；事件本身可在事件页查看"
        )
    day = report.period_start.replace(tzinfo=UTC).astimezone(local_zone()).date()
    return build(session, day=day, now=now, reader=reader)


def update_paragraph(
    session: Session, *, report: Report, section: int, paragraph: int, text: str, editor: str
) -> ReportVersion:
    """An editor's change of one paragraph's text: a new version (quotes are kept as taken)."""
    content = content_of(get_latest_version(session, report=report))
    try:
        content.sections[section].paragraphs[paragraph].text = text
    except IndexError:
        raise ReportError(
            f"报告 {report.id} 没有第 {section + 1} 部分第 {paragraph + 1} 段"
        ) from None
    return create_version(session, report=report, content=content, edited_by=editor)


def update_sent_version(session: Session, *, report: Report, now: datetime) -> ReportVersion:
    """Record the newest version as the one sent (by hand), at ``now``."""
    version = get_latest_version(session, report=report)
    version.sent_at = now
    report.sent_version_id = version.id
    return version


def get_report(session: Session, *, report_id: int) -> Report | None:
    return session.get(Report, report_id)


def list_versions(session: Session, *, report: Report) -> list[ReportVersion]:
    """The report's versions, newest first."""
    statement = (
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .order_by(ReportVersion.number.desc())
    )
    return list(session.execute(statement).scalars())


def list_reports(session: Session, *, reader: Principal, limit: int) -> list[tuple[Report, int]]:
    """The stored reports the reader may open, newest period first, each with its number of
    versions; without ``reports.all`` no 专报 (it has no version of one unit)."""
    counts = (
        select(ReportVersion.report_id, func.count().label("n"))
        .group_by(ReportVersion.report_id)
        .subquery()
    )
    statement = select(Report, counts.c.n).join(counts, counts.c.report_id == Report.id)
    if not whole(reader):
        statement = statement.where(Report.kind.in_(list(BUILDERS)))
    rows = session.execute(
        statement.order_by(Report.period_start.desc(), Report.id.desc()).limit(limit)
    ).all()
    return [(report, int(n)) for report, n in rows]
