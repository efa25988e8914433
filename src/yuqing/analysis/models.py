"""Tables of the analysis domain: analysts' sentiment labels (人工校正) and model versions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class SentimentLabel(Base):
    """An analyst's correction of a mention's sentiment (and optionally its emotion); the
    latest one per mention is what retraining learns from."""

    __tablename__ = "sentiment_label"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    mention_id: Mapped[int] = mapped_column(
        ForeignKey("mention.id", ondelete="CASCADE"), index=True
    )
    label: Mapped[str] = mapped_column(String(8))  # positive | neutral | negative
    emotion: Mapped[str | None] = mapped_column(String(12))
    who: Mapped[str] = mapped_column(String(100), default="")  # free text until accounts exist
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SentimentModelVersion(Base):
    """One trained model (模型版本) with its held-out figures; kept so it can be put back.

    ``status``: ``active`` (in use), ``kept`` (accepted earlier, can be rolled back to),
    ``rejected`` (lost the held-out comparison; kept for the record, not usable)."""

    __tablename__ = "sentiment_model_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(12), default="sentiment")
    status: Mapped[str] = mapped_column(String(12), default="rejected")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    who: Mapped[str] = mapped_column(String(100), default="")
    trigger: Mapped[str] = mapped_column(String(12), default="command")  # command|button|schedule
    labels: Mapped[int] = mapped_column(Integer, default=0)  # labelled items it learned from
    file: Mapped[str | None] = mapped_column(String(300))  # under <data_dir>/models/versions
    figures: Mapped[str] = mapped_column(Text, default="{}")  # JSON: held-out comparison
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)
