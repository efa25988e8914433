"""The inbox of queue mode (收件箱): each pushed or fetched batch, written before the answer.

In queue mode (``YUQING_QUEUE``, docs/scaling.md) the push API and the fetcher store the
raw items of a batch here and answer at once; the queue only carries the row's id. A row
moves ``queued`` → ``stored`` (analysed and written by an analysis worker, in the same
transaction as the mentions) → ``done`` (events, dashboard counts and alerts, by the ordered
consumer). Whatever the broker loses, a row still ``queued`` or ``stored`` is sent again, and
its state makes a second run a no-op.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow

QUEUED, STORED, DONE = "queued", "stored", "done"


class InboxBatch(Base):
    """One batch of collected items waiting for, or done by, the queue workers."""

    __tablename__ = "inbox_batch"
    __table_args__ = (Index("ix_inbox_batch_state", "state", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("source.id", ondelete="CASCADE"))
    origin: Mapped[str] = mapped_column(String(10))  # push | fetch
    state: Mapped[str] = mapped_column(String(10), default=QUEUED)
    received: Mapped[int] = mapped_column(Integer, default=0)  # items in the batch
    # The raw items as JSON (emptied once stored: the mentions hold them then).
    items: Mapped[str] = mapped_column(Text, default="")
    # The stored batch (``Batch.to_dict`` with ids, without raw payloads) for the ordered
    # stages; emptied once done.
    batch: Mapped[str] = mapped_column(Text, default="")
    # The outcome as the push API would have answered it (counts and per-item outcomes).
    result: Mapped[str] = mapped_column(Text, default="")
    # Runs started (a count above 1: a worker died or a race retried the batch).
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    stored_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
