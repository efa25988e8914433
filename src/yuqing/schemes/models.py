"""Tables of the schemes domain: scheme groups, schemes and their matches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow

SCHEME_MODES = ("simple", "advanced")
SCHEME_SCOPES = ("both", "title", "text")


class SchemeGroup(Base):
    """A folder of schemes (方案分组), e.g. 校园安全 or 领导动态."""

    __tablename__ = "scheme_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    order: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Scheme(Base):
    """A monitoring scheme (监测方案): word groups (simple) or a query (advanced)."""

    __tablename__ = "scheme"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int | None] = mapped_column(
        ForeignKey("scheme_group.id", ondelete="SET NULL"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    mode: Mapped[str] = mapped_column(String(10), default="simple")
    # Simple mode: words one a line, in the form the user typed them.
    subject_words: Mapped[str] = mapped_column(Text, default="")  # 主体词
    region_words: Mapped[str] = mapped_column(Text, default="")  # 地域词
    person_words: Mapped[str] = mapped_column(Text, default="")  # 人物词
    event_words: Mapped[str] = mapped_column(Text, default="")  # 事件词
    exclude_words: Mapped[str] = mapped_column(Text, default="")  # 排除词
    query: Mapped[str] = mapped_column(Text, default="")  # advanced mode
    scope: Mapped[str] = mapped_column(String(8), default="both")  # both | title | text
    weight: Mapped[float] = mapped_column(Float, default=1.0)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # A notice the desk put on the scheme for its owner (e.g. why it was disabled on upgrade);
    # cleared when the scheme is next saved.
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    # Bumped on every change: the matcher's cache key and, later, the audit trail's anchor.
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SchemeMatch(Base):
    """A mention that a scheme matched, with the words that made it match (JSON list)."""

    __tablename__ = "scheme_match"
    __table_args__ = (
        Index("ix_scheme_match_scheme_mention", "scheme_id", "mention_id", unique=True),
        Index("ix_scheme_match_mention", "mention_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("scheme.id", ondelete="CASCADE"))
    mention_id: Mapped[int] = mapped_column(ForeignKey("mention.id", ondelete="CASCADE"))
    words: Mapped[str] = mapped_column(Text, default="[]")
    matched_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
