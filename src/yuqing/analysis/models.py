"""Tables of the analysis domain: analysts' sentiment labels (人工校正)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
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
