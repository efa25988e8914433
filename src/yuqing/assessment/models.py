"""Tables of assessment: training, monthly tasks, credited activities, weights, scores and
the monthly bulletin."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class TrainingSession(Base):
    """A training session (培训): policy, law, media, skills or experience sharing."""

    __tablename__ = "assessment_training"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))  # policy | law | media | skills | experience
    starts_at: Mapped[datetime] = mapped_column(DateTime)
    place: Mapped[str] = mapped_column(String(200), default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    trainer: Mapped[str] = mapped_column(String(100), default="")
    materials: Mapped[str] = mapped_column(Text, default="[]")  # JSON [[shown, stored], …]
    sign_token: Mapped[str] = mapped_column(String(40), unique=True)  # in the sign-in QR code
    created_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class TrainingInvite(Base):
    """A person invited to a session (expanded from roles and units when invited)."""

    __tablename__ = "assessment_training_invite"

    training_id: Mapped[int] = mapped_column(
        ForeignKey("assessment_training.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )


class TrainingAttendance(Base):
    """A person signed in at a session, once (a second sign-in changes nothing)."""

    __tablename__ = "assessment_training_attendance"

    training_id: Mapped[int] = mapped_column(
        ForeignKey("assessment_training.id", ondelete="CASCADE"), primary_key=True
    )
    person_id: Mapped[int] = mapped_column(
        ForeignKey("person.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    signed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    method: Mapped[str] = mapped_column(String(10), default="list")  # qr | list
    signed_by: Mapped[str] = mapped_column(String(100), default="")


class MonthlyTask(Base):
    """A monthly task (月度任务) of a duty role, for every unit or one: reach ``target`` items
    of the credit kind ``metric`` in the month (新闻通讯员: 2 news, 网络信息员: 20 patrols)."""

    __tablename__ = "assessment_task"
    __table_args__ = (Index("ix_assessment_task_month", "month"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))  # YYYY-MM
    duty_role_id: Mapped[int] = mapped_column(ForeignKey("duty_role.id", ondelete="CASCADE"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="CASCADE"))
    metric: Mapped[str] = mapped_column(String(30))
    target: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class CreditWeight(Base):
    """The points of one kind of credited work (data, editable): a news story 1, featured ×2,
    picked up by outside media ×3, a case handled late −2 …"""

    __tablename__ = "assessment_credit_weight"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(30), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    points: Mapped[float] = mapped_column(Float, default=1.0)
    order: Mapped[int] = mapped_column(Integer, default=0)


class Activity(Base):
    """A credited activity the desk records itself (计分记录): a patrol report, a manual item
    with its reason, and the rows other domains hand over (editorial writes published news
    here, or the lead wires its read into sources.py). Unique per source record and person,
    so recording the same thing twice counts it once."""

    __tablename__ = "assessment_activity"
    __table_args__ = (
        UniqueConstraint(
            "kind", "source_type", "source_id", "person_id", name="uq_assessment_activity_source"
        ),
        Index("ix_assessment_activity_at", "at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(String(30))  # a CreditWeight key
    # A news story's grade: "" ordinary, "featured" (精品/头条), "picked_up" (外媒转载); its
    # multiplier is read from the weights when credit is counted, so a changed weight
    # counts for every month not yet bulletined.
    grade: Mapped[str] = mapped_column(String(20), default="")
    points: Mapped[float | None] = mapped_column(Float)  # manual items: the points given
    title: Mapped[str] = mapped_column(String(300), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    source_type: Mapped[str] = mapped_column(String(20), default="desk")
    source_id: Mapped[str] = mapped_column(String(64), default="")
    recorded_by: Mapped[str] = mapped_column(String(100), default="")


class ScoreRubric(Base):
    """The rubric of a duty role (评分细则): how much completion and quality weigh."""

    __tablename__ = "assessment_rubric"

    duty_role_id: Mapped[int] = mapped_column(
        ForeignKey("duty_role.id", ondelete="CASCADE"), primary_key=True
    )
    completion_weight: Mapped[float] = mapped_column(Float, default=0.7)
    quality_weight: Mapped[float] = mapped_column(Float, default=0.3)


class QualityScore(Base):
    """The department's quality score (质量评分, 0–100) of one person for one month."""

    __tablename__ = "assessment_quality"
    __table_args__ = (UniqueConstraint("month", "person_id", name="uq_assessment_quality"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7))
    person_id: Mapped[int] = mapped_column(ForeignKey("person.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    note: Mapped[str] = mapped_column(Text, default="")
    scored_by: Mapped[str] = mapped_column(String(100), default="")
    scored_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Bulletin(Base):
    """A monthly bulletin (月度通报) made and sent once per month by the schedule (or by
    hand); its content is kept as made."""

    __tablename__ = "assessment_bulletin"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[str] = mapped_column(String(7), unique=True)
    content: Mapped[str] = mapped_column(Text)  # ReportContent JSON
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
