"""Tables of incident handling: grades, SLA clocks, cases, their links, timers and timeline."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class Grade(Base):
    """A case grade (事件等级): 一般/较大/重大/特别重大 by default (data, renamable)."""

    __tablename__ = "case_grade"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    order: Mapped[int] = mapped_column(Integer, default=0)
    color: Mapped[str] = mapped_column(String(20), default="blue")
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)


class SlaClock(Base):
    """One clock of a grade's SLA policy (时限): it starts when the case enters ``starts_on``
    and is met when the case reaches ``stops_on`` (a status or an event)."""

    __tablename__ = "case_sla_clock"
    __table_args__ = (UniqueConstraint("grade_id", "clock", name="uq_case_sla_clock_grade"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    grade_id: Mapped[int] = mapped_column(ForeignKey("case_grade.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(40))
    starts_on: Mapped[str] = mapped_column(String(20))
    stops_on: Mapped[str] = mapped_column(String(20))
    amount: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(20), default="hours")  # hours | working_days
    pause_when_returned: Mapped[bool] = mapped_column(Boolean, default=False)


class Closure(Base):
    """A day the institution is closed besides the official holidays (闭馆/校历停课日)."""

    __tablename__ = "case_closure"

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Case(Base):
    """A case (舆情事件处置单): one incident from its report to its closure."""

    __tablename__ = "incident_case"  # "case" is an SQL keyword
    __table_args__ = (
        Index("ix_case_status", "status"),
        Index("ix_case_unit_status", "unit_id", "status"),
        Index("ix_case_reporter_unit", "reporter_unit_id"),
        Index("ix_case_created", "created_at"),
        # The same mention/event/alert opens one case only (NULL source ids never clash).
        Index("ux_case_source", "source_type", "source_id", unique=True),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    link: Mapped[str | None] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="new")
    grade_id: Mapped[int | None] = mapped_column(ForeignKey("case_grade.id", ondelete="RESTRICT"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    assignee_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    reporter_user_id: Mapped[int | None] = mapped_column(Integer)  # no FK: cases outlive accounts
    reporter_unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    reported_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    triaged_at: Mapped[datetime | None] = mapped_column(DateTime)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime)
    in_progress_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    feedback_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime)
    info_published_at: Mapped[datetime | None] = mapped_column(DateTime)
    responded_at: Mapped[datetime | None] = mapped_column(DateTime)
    feedback_text: Mapped[str | None] = mapped_column(Text)
    response_text: Mapped[str | None] = mapped_column(Text)
    response_url: Mapped[str | None] = mapped_column(Text)
    lessons: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str] = mapped_column(String(500), default="")  # space-separated
    source_type: Mapped[str] = mapped_column(String(10), default="manual")
    source_id: Mapped[int | None] = mapped_column(Integer)


class CaseMention(Base):
    """A mention a case covers."""

    __tablename__ = "case_mention"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("incident_case.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseEvent(Base):
    """An event a case covers."""

    __tablename__ = "case_event"

    case_id: Mapped[int] = mapped_column(
        ForeignKey("incident_case.id", ondelete="CASCADE"), primary_key=True
    )
    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, index=True
    )


class CaseTimer(Base):
    """One running (or met) SLA clock of a case, with its reminders and escalation step."""

    __tablename__ = "case_timer"
    __table_args__ = (
        UniqueConstraint("case_id", "clock", name="uq_case_timer_case_clock"),
        Index("ix_case_timer_running", "satisfied_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("incident_case.id", ondelete="CASCADE"))
    clock: Mapped[str] = mapped_column(String(40))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    due_at: Mapped[datetime] = mapped_column(DateTime)
    paused_at: Mapped[datetime | None] = mapped_column(DateTime)
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    satisfied_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_50_at: Mapped[datetime | None] = mapped_column(DateTime)
    reminded_80_at: Mapped[datetime | None] = mapped_column(DateTime)
    escalation_step: Mapped[int] = mapped_column(Integer, default=0)
    last_escalated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Which calendar the due time was counted on (calendar.Basis.encode()); NULL for hours.
    calendar_rule: Mapped[str | None] = mapped_column(String(200))


class CaseEntry(Base):
    """One line of a case's timeline (处置记录): a transition, comment, link or reminder."""

    __tablename__ = "case_entry"
    __table_args__ = (Index("ix_case_entry_case", "case_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("incident_case.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    # transition | comment | attach | detach | reminder | escalation
    kind: Mapped[str] = mapped_column(String(20))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str | None] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(Text, default="")


class CalendarYear(Base):
    """A year of the official working calendar (法定节假日与调休安排) the desk holds: a year
    without a row has no official data, and its deadlines count Monday to Friday."""

    __tablename__ = "case_calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(20))  # package | import | manual
    note: Mapped[str] = mapped_column(String(200), default="")  # the package and version, file
    # Bumped by every edit of the year: the per-process calendar cache compares it.
    revision: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CalendarDay(Base):
    """One day of the official calendar: a day off (休) or a make-up working day (班, 调休)."""

    __tablename__ = "case_calendar_day"
    __table_args__ = (Index("ix_case_calendar_day_year", "year"),)

    date: Mapped[date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("case_calendar_year.year", ondelete="CASCADE"))
    working: Mapped[bool] = mapped_column(Boolean)  # True: 班 (make-up working day); False: 休
    name: Mapped[str] = mapped_column(String(60), default="")
