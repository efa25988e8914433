"""Typed values of queue mode that cross the API's edge: a queued push and a batch's state."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from yuqing.sources.schemas import IngestResult


class QueuedPush(BaseModel):
    """The answer to a push in queue mode (202): the batch is in the inbox, committed."""

    inbox_id: int
    source_id: int
    received: int
    state: str = "queued"
    status_url: str


class InboxStatus(BaseModel):
    """Where one pushed or fetched batch is: queued → stored (searchable) → done."""

    id: int
    source_id: int
    state: str
    received: int
    attempts: int
    error: str | None
    received_at: datetime
    stored_at: datetime | None
    done_at: datetime | None
    result: IngestResult | None
