"""Tables of reports: a report and its versions (the generated one, editors' changes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class Report(Base):
    """A report (报告) of one kind and period; the daily of a day exists once."""

    __tablename__ = "report"
    __table_args__ = (
        UniqueConstraint("kind", "period_start", "subject_id", name="uq_report_kind_period"),
        Index("ix_report_created", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))  # daily | weekly | monthly | event
    title: Mapped[str] = mapped_column(String(300))
    period_start: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    period_end: Mapped[datetime] = mapped_column(DateTime)
    subject_id: Mapped[int] = mapped_column(Integer, default=0)  # the event of a 专报, else 0
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_version_id: Mapped[int | None] = mapped_column(Integer)


class ReportVersion(Base):
    """One version of a report's content; an edit adds a version, none is ever changed
    after it was sent."""

    __tablename__ = "report_version"
    __table_args__ = (UniqueConstraint("report_id", "number", name="uq_report_version_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("report.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text, default="")  # the plain text, for reading and diff
    content: Mapped[str] = mapped_column(Text)  # ReportContent as JSON
    edited_by: Mapped[str] = mapped_column(String(100), default="")  # empty: generated
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
