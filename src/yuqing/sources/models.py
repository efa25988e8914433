"""Tables of the sources domain."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow

"""rss covers RSS 0.9x/1.0/2.0, Atom and JSON Feed; page is one article; list is a list page
whose links are followed one level; import and push receive items instead of fetching them."""


class Source(Base):
    """A configured source (信息源) and its fetch scheduling state."""

    __tablename__ = "source"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), index=True)
    url: Mapped[str | None] = mapped_column(String(2000))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    interval_seconds: Mapped[int] = mapped_column(Integer, default=900)
    # How much an item from this source weighs in the risk score (official media > forum).
    weight: Mapped[float] = mapped_column(Float, default=1.0, server_default="1.0")
    # The platform its items are published on (微博, 新闻 …: mentions/platforms.py); None lets
    # each item's URL host decide.
    platform: Mapped[str | None] = mapped_column(String(12))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    # Scheduling (conditional GET, capped backoff).
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    etag: Mapped[str | None] = mapped_column(String(500))
    last_modified: Mapped[str | None] = mapped_column(String(100))
    last_content_hash: Mapped[str | None] = mapped_column(String(64))

    # Health shown on the sources page.
    last_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_new_item_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[datetime | None] = mapped_column(DateTime)
    count_new: Mapped[int] = mapped_column(Integer, default=0)
    count_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    count_updated: Mapped[int] = mapped_column(Integer, default=0)
    count_failed: Mapped[int] = mapped_column(Integer, default=0)
    count_filtered: Mapped[int] = mapped_column(Integer, default=0)
    # The column mapping last used to import into this source (JSON: header → field), offered
    # again on its next upload.
    import_mapping: Mapped[str | None] = mapped_column(Text)


class FetchRun(Base):
    """One attempt to fetch a source: what came back, counted once with a status label."""

    __tablename__ = "fetch_run"
    # Source health reads one source's recent runs.
    __table_args__ = (Index("ix_fetch_run_source_started", "source_id", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    http_status: Mapped[int | None] = mapped_column(Integer)
    not_modified: Mapped[bool] = mapped_column(Boolean, default=False)
    ok: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    items_seen: Mapped[int] = mapped_column(Integer, default=0)
    items_new: Mapped[int] = mapped_column(Integer, default=0)
    items_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    items_updated: Mapped[int] = mapped_column(Integer, default=0)
    items_failed: Mapped[int] = mapped_column(Integer, default=0)
    # seen = new + duplicate + updated + unchanged + failed + skipped (list links stored before).
    items_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    items_skipped: Mapped[int] = mapped_column(Integer, default=0)
    # The body was byte-identical to the last one (no 304 from the server, same hash).
    content_unchanged: Mapped[bool] = mapped_column(Boolean, default=False)
    duration_ms: Mapped[int | None] = mapped_column(Integer)


IMPORT_STATES = ("mapping", "queued", "running", "done", "failed")
"""mapping: uploaded, columns not yet confirmed; queued/running: being stored; done; failed:
the file could not be imported at all (nothing of it stored)."""


class ImportJob(Base):
    """One file uploaded on the desk (导入任务): where it is kept, how its columns map, how far
    the import got and what became of each row."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(Integer, index=True)
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded, shown to people
    stored_name: Mapped[str] = mapped_column(String(100))  # under <data_dir>/imports/
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(20), default="mapping")
    mapping: Mapped[str | None] = mapped_column(Text)  # JSON: header → field, as confirmed
    created_by_id: Mapped[int | None] = mapped_column(Integer)  # the account, for the audit
    created_by: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Written after each stored batch: the page polls it, and an import whose heartbeat has
    # stopped (the server restarted) is shown as interrupted and can be started again.
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    count_new: Mapped[int] = mapped_column(Integer, default=0)
    count_duplicate: Mapped[int] = mapped_column(Integer, default=0)
    count_updated: Mapped[int] = mapped_column(Integer, default=0)
    count_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    count_refused: Mapped[int] = mapped_column(Integer, default=0)
    # JSON list of {"row", "reason", "title", "url"}: each refused row and why.
    refused: Mapped[str | None] = mapped_column(Text)
    # JSON list of {"row", "reason"}: rows stored with a note (formulas kept as text).
    notes: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)  # why the whole file failed
