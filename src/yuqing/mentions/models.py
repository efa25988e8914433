"""Tables of the mentions domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow

MENTION_STATUSES = ("new", "duplicate", "filtered", "failed")


class Mention(Base):
    """One collected item (信息): a post, article or comment about the institution."""

    __tablename__ = "mention"
    # Partial indexes where most rows hold NULL: each insert then touches fewer indexes
    # (ingest speed), and the lookups that need them only ask for non-NULL values.
    __table_args__ = (
        Index(
            "ix_mention_source_external",
            "source_id",
            "external_id",
            unique=True,
            sqlite_where=text("external_id IS NOT NULL"),
            postgresql_where=text("external_id IS NOT NULL"),
        ),
        # Most pushed items (posts) have no URL.
        Index(
            "ix_mention_url_hash",
            "url_hash",
            sqlite_where=text("url_hash IS NOT NULL"),
            postgresql_where=text("url_hash IS NOT NULL"),
        ),
        Index("ix_mention_content_hash", "content_hash"),
        # Also serves the sentiment filter of the stream: a third of the listed rows share a
        # sentiment, too many for an index of their own to beat reading them in time order.
        Index("ix_mention_status_published", "status", "published_at"),
        # The stream (信息流) lists rows without a near-duplicate group (near_group_id IS NULL,
        # an equality for the index) in one order within a time range: with the group second,
        # each order's index gives the page in order and the capped count without reading a
        # row (a 7-day count at 1M rows: 10,000 row reads before, none now).
        Index("ix_mention_stream_time", "status", "near_group_id", "published_at"),
        Index("ix_mention_stream_risk", "status", "near_group_id", "risk_score", "published_at"),
        Index("ix_mention_stream_heat", "status", "near_group_id", "heat", "published_at"),
        Index("ix_mention_stream_platform", "status", "near_group_id", "platform", "published_at"),
        # The analysis page (analysis/insights.py) counts a range by time step, sentiment,
        # platform and source from this index alone, without reading the rows.
        Index(
            "ix_mention_stream_facets",
            "status",
            "near_group_id",
            "published_at",
            "sentiment",
            "platform",
            "source_id",
        ),
        Index(
            "ix_mention_root",
            "root_external_id",
            sqlite_where=text("root_external_id IS NOT NULL"),
            postgresql_where=text("root_external_id IS NOT NULL"),
        ),
        Index(
            "ix_mention_near_group",
            "near_group_id",
            sqlite_where=text("near_group_id IS NOT NULL"),
            postgresql_where=text("near_group_id IS NOT NULL"),
        ),
        Index(
            "ix_mention_duplicate_of",
            "duplicate_of_id",
            sqlite_where=text("duplicate_of_id IS NOT NULL"),
            postgresql_where=text("duplicate_of_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(300))
    url: Mapped[str | None] = mapped_column(Text)
    canonical_url: Mapped[str | None] = mapped_column(Text)
    # 64-bit keys (mentions/normalise.py): a quarter of the index of a hex digest.
    url_hash: Mapped[int | None] = mapped_column(BigInteger)
    title: Mapped[str] = mapped_column(Text, default="")
    text: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(String(300))
    published_at: Mapped[datetime] = mapped_column(DateTime)
    collected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime)
    parent_external_id: Mapped[str | None] = mapped_column(String(300))
    root_external_id: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(16), default="zh")
    raw: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="new")
    content_hash: Mapped[int] = mapped_column(BigInteger)
    duplicate_of_id: Mapped[int | None] = mapped_column(
        ForeignKey("mention.id", ondelete="SET NULL")
    )
    duplicate_count: Mapped[int] = mapped_column(Integer, default=0)
    # Segmented search text (Simplified, overlapping CJK bigrams); see mentions/search.py.
    search_text: Mapped[str] = mapped_column(Text, default="")

    # Analysis, filled in the ingest path by the pipeline's stages (worker/pipeline.py).
    sentiment: Mapped[str | None] = mapped_column(String(8))  # positive | neutral | negative
    sentiment_score: Mapped[float | None] = mapped_column(Float)  # calibrated P(sentiment)
    sentiment_model: Mapped[str | None] = mapped_column(String(40))  # version that labelled it
    emotion: Mapped[str | None] = mapped_column(String(12))  # neutral happy angry sad fear surprise
    risk_score: Mapped[int | None] = mapped_column(Integer)  # 0–100
    risk_parts: Mapped[str | None] = mapped_column(Text)  # JSON: the parts of the score
    # Near-duplicates (相似文章): members point at the group's representative mention, which
    # counts them in near_count; a mention with no similar item has neither.
    near_group_id: Mapped[int | None] = mapped_column(ForeignKey("mention.id", ondelete="SET NULL"))
    near_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    regions: Mapped[str | None] = mapped_column(String(500))  # display form of the places named
    # Where it was published (mentions/platforms.py), set at ingest from the source's platform
    # or the URL's host, and the spread counts collectors send (None: not sent). heat is
    # their sum, the stream's 热度 order (docs/decisions.md).
    platform: Mapped[str | None] = mapped_column(String(12))
    reposts: Mapped[int | None] = mapped_column(Integer)
    comments: Mapped[int | None] = mapped_column(Integer)
    likes: Mapped[int | None] = mapped_column(Integer)
    heat: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class MentionPlace(Base):
    """A place (province, city or county) named in a mention: one row each, for filters."""

    __tablename__ = "mention_place"
    __table_args__ = (Index("ix_mention_place_code", "code", "mention_id"),)

    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True
    )
    code: Mapped[str] = mapped_column(String(12), primary_key=True)  # administrative code
    level: Mapped[str] = mapped_column(String(8))  # province | city | county
    name: Mapped[str] = mapped_column(String(60))


class MentionBand(Base):
    """One LSH band key of a listed mention's MinHash signature (see mentions/neardup.py):
    mentions sharing a key are near-duplicate candidates, checked before they are grouped."""

    __tablename__ = "mention_band"
    __table_args__ = (
        Index("ix_mention_band_mention", "mention_id"),
        # The primary key is the lookup index: no second copy of every key in a rowid table.
        {"sqlite_with_rowid": False},
    )

    band_key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    # The group the mention was put in (its representative's id, or its own): read when the
    # mention is updated, to move it out of its old group's count.
    group_id: Mapped[int] = mapped_column(Integer)


class MentionMark(Base):
    """One account's marks on one mention (已读/重要): per account, on the item, never on its
    author. A row exists once the account opened or marked the item."""

    __tablename__ = "mention_mark"
    # The stream's 重要 filter: one account's important items.
    __table_args__ = (Index("ix_mention_mark_important", "user_id", "important", "mention_id"),)

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), primary_key=True
    )
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    important: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    important_at: Mapped[datetime | None] = mapped_column(DateTime)
