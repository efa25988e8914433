"""Tables of the events domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class Event(Base):
    """An event (事件): one story and the mentions that carry it.

    The counters are kept up to date by the ingest stage (one UPDATE per touched event and
    batch), so lists and the heat index never count members by scanning them.
    """

    __tablename__ = "event"
    __table_args__ = (
        Index("ix_event_heat", "heat"),
        Index("ix_event_last_seen", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(300), default="")
    representative_id: Mapped[int | None] = mapped_column(
        ForeignKey("mention.id", ondelete="SET NULL")
    )
    # True while the representative is itself a repost/comment: an original post that joins
    # later (it arrived after its reposts) then takes its place.
    representative_is_reply: Mapped[bool] = mapped_column(Boolean, default=False)
    first_mention_id: Mapped[int | None] = mapped_column(
        ForeignKey("mention.id", ondelete="SET NULL")
    )
    first_seen_at: Mapped[datetime] = mapped_column(DateTime)  # 首发: earliest published
    last_seen_at: Mapped[datetime] = mapped_column(DateTime)
    size: Mapped[int] = mapped_column(Integer, default=0)
    count_positive: Mapped[int] = mapped_column(Integer, default=0)
    count_neutral: Mapped[int] = mapped_column(Integer, default=0)
    count_negative: Mapped[int] = mapped_column(Integer, default=0)
    source_count: Mapped[int] = mapped_column(Integer, default=0)
    heat: Mapped[float] = mapped_column(Float, default=0.0)
    # Key terms (space-separated, strongest first): rebuilds the in-memory term index.
    terms: Mapped[str] = mapped_column(Text, default="")
    # Exact copies (mention status ``duplicate``) placed here: members, never counted in
    # size, sentiment, sources or hours; the page shows them as 重复 N.
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    # The text profile: the sum of the text members' bigram vectors (events/cluster.py), so
    # a process that starts rebuilds its index and the periodic pass compares events.
    vector: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Set when a person or the periodic pass merged this event into another; the event then
    # has no members.
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("event.id", ondelete="SET NULL"))
    # 相关事件: another event of the same story that is kept apart (its own repost cascade),
    # pointing at the story's first event; the desk lists them together.
    related_to_id: Mapped[int | None] = mapped_column(
        ForeignKey("event.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class EventMember(Base):
    """A mention's event: every clustered mention has exactly one."""

    __tablename__ = "event_member"
    __table_args__ = (Index("ix_event_member_event", "event_id", "published_at"),)

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    event_id: Mapped[int] = mapped_column(ForeignKey("event.id", ondelete="CASCADE"))
    published_at: Mapped[datetime] = mapped_column(DateTime)
    # How it joined: root (repost chain), near (near-duplicate group), copy (exact copy),
    # text (shared key terms), seed (it started the event), manual (moved by a person).
    reason: Mapped[str] = mapped_column(String(8), default="seed")
    sentiment: Mapped[str | None] = mapped_column(String(8))


class EventSource(Base):
    """How many of an event's mentions came from one source (counts by source kind)."""

    __tablename__ = "event_source"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    source_id: Mapped[int] = mapped_column(
        ForeignKey("source.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    count: Mapped[int] = mapped_column(Integer, default=0)


class EventHour(Base):
    """Mentions of an event published in one hour (UTC): the trend line and growth rate."""

    __tablename__ = "event_hour"

    event_id: Mapped[int] = mapped_column(
        ForeignKey("event.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    hour: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
