"""Tables of the institution's own voice: kinds, review stages, submissions, their versions,
review actions, uploaded images and the pre-check word lists."""

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


class SubmissionKind(Base):
    """A kind of submission (稿件类型): 新闻稿, 官方声明/情况通报, 署名评论, 媒体采访申请."""

    __tablename__ = "editorial_kind"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    order: Mapped[int] = mapped_column(Integer, default=0)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    # Working days after the event date the item is due (新闻稿: 1); NULL: no deadline.
    due_working_days: Mapped[float | None] = mapped_column(Float)
    publishable: Mapped[bool] = mapped_column(Boolean, default=True)  # interviews are not
    is_interview: Mapped[bool] = mapped_column(Boolean, default=False)


class ReviewStage(Base):
    """One review stage of a kind (审核环节): 初审 → 复审 → 终审 by default. Who may act:
    a person, or the holders of a duty role — in the submission's own unit
    (``unit_rule="own"``), in one named unit (``"fixed"``), or anywhere (``"any"``)."""

    __tablename__ = "editorial_stage"
    __table_args__ = (Index("ix_editorial_stage_kind", "kind_id", "order"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("editorial_kind.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(60))
    order: Mapped[int] = mapped_column(Integer, default=0)
    duty_role_id: Mapped[int | None] = mapped_column(
        ForeignKey("duty_role.id", ondelete="SET NULL")
    )
    unit_rule: Mapped[str] = mapped_column(String(10), default="any")  # own | fixed | any
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    person_id: Mapped[int | None] = mapped_column(ForeignKey("person.id", ondelete="SET NULL"))


class Submission(Base):
    """A submission (稿件): news, a statement, a commentary or an interview request, from
    its draft to its publication, with a timestamp per status."""

    __tablename__ = "editorial_submission"
    __table_args__ = (
        Index("ix_editorial_submission_state", "state"),
        Index("ix_editorial_submission_unit", "unit_id", "state"),
        Index("ix_editorial_submission_case", "case_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("editorial_kind.id", ondelete="RESTRICT"))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")  # sanitised HTML
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id", ondelete="SET NULL"))
    author_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    event_date: Mapped[date | None] = mapped_column(Date)
    channels: Mapped[str] = mapped_column(String(300), default="")  # space-separated keys
    case_id: Mapped[int | None] = mapped_column(ForeignKey("incident_case.id", ondelete="SET NULL"))
    # draft | in_review | returned | approved | rejected | published | unpublished
    state: Mapped[str] = mapped_column(String(20), default="draft")
    stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("editorial_stage.id", ondelete="SET NULL")
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    due_at: Mapped[datetime | None] = mapped_column(DateTime)
    due_rule: Mapped[str | None] = mapped_column(String(200))
    reminded_at: Mapped[datetime | None] = mapped_column(DateTime)  # "due soon" sent
    overdue_told_at: Mapped[datetime | None] = mapped_column(DateTime)  # "overdue" sent
    lock_user_id: Mapped[int | None] = mapped_column(Integer)
    lock_name: Mapped[str] = mapped_column(String(100), default="")
    locked_at: Mapped[datetime | None] = mapped_column(DateTime)
    flags: Mapped[str] = mapped_column(Text, default="[]")  # the last pre-check (JSON)
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    correction_note: Mapped[str] = mapped_column(Text, default="")
    slug: Mapped[str | None] = mapped_column(String(40), unique=True)  # the public page
    # interview requests (媒体采访申请)
    outlet: Mapped[str] = mapped_column(String(200), default="")
    visit_at: Mapped[datetime | None] = mapped_column(DateTime)
    contact_person_id: Mapped[int | None] = mapped_column(
        ForeignKey("person.id", ondelete="SET NULL")
    )
    conditions: Mapped[str] = mapped_column(Text, default="")
    created_by_user_id: Mapped[int | None] = mapped_column(Integer)
    created_by_name: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    returned_at: Mapped[datetime | None] = mapped_column(DateTime)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime)
    rejected_at: Mapped[datetime | None] = mapped_column(DateTime)
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    unpublished_at: Mapped[datetime | None] = mapped_column(DateTime)
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime)


class SubmissionVersion(Base):
    """One saved version of a submission (版本): every save is one, never overwritten."""

    __tablename__ = "editorial_version"
    __table_args__ = (
        UniqueConstraint("submission_id", "number", name="uq_editorial_version_number"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("editorial_submission.id", ondelete="CASCADE")
    )
    number: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    note: Mapped[str] = mapped_column(String(300), default="")
    saved_by_user_id: Mapped[int | None] = mapped_column(Integer)
    saved_by_name: Mapped[str] = mapped_column(String(100), default="")
    saved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ReviewAction(Base):
    """One explicit review action (审核记录): approve, return or reject at a stage, with the
    overall comment, the inline comments (JSON: quoted text and remark) and the
    proofreading pass (校对) the reviewer recorded."""

    __tablename__ = "editorial_review"
    __table_args__ = (Index("ix_editorial_review_submission", "submission_id", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("editorial_submission.id", ondelete="CASCADE")
    )
    stage_id: Mapped[int | None] = mapped_column(
        ForeignKey("editorial_stage.id", ondelete="SET NULL")
    )
    stage_name: Mapped[str] = mapped_column(String(60), default="")
    action: Mapped[str] = mapped_column(String(20))  # approve | return | reject | publish …
    version_number: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    inline: Mapped[str] = mapped_column(Text, default="[]")
    proofread: Mapped[bool] = mapped_column(Boolean, default=False)
    proofread_note: Mapped[str] = mapped_column(Text, default="")
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_person_id: Mapped[int | None] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(100), default="")
    at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EditorialImage(Base):
    """An image uploaded for a submission's body, stored under the data dir by its hash."""

    __tablename__ = "editorial_image"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(80), unique=True)  # <sha256>.<ext>
    content_type: Mapped[str] = mapped_column(String(40))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Attachment(Base):
    """A file attached to a submission (附件: the signed form, a photo set, a PDF), stored
    under the data dir by its hash; the name is the uploader's."""

    __tablename__ = "editorial_attachment"
    __table_args__ = (Index("ix_editorial_attachment_submission", "submission_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    submission_id: Mapped[int] = mapped_column(
        ForeignKey("editorial_submission.id", ondelete="CASCADE")
    )
    filename: Mapped[str] = mapped_column(String(200))
    stored: Mapped[str] = mapped_column(String(80))  # <sha256>.<ext>
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    uploaded_by_user_id: Mapped[int | None] = mapped_column(Integer)
    uploaded_by_name: Mapped[str] = mapped_column(String(100), default="")
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class WordList(Base):
    """A word list of the compliance pre-check (合规预检词表): one of the five prohibited
    categories (``kind="prohibited"``) or the terms that must be written exactly
    (``kind="exact"``: leaders' names and titles). One word a line."""

    __tablename__ = "editorial_wordlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20), default="prohibited")
    words: Mapped[str] = mapped_column(Text, default="")
    order: Mapped[int] = mapped_column(Integer, default=0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
