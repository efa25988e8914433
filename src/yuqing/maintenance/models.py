"""Tables of the maintenance domain: retention rules, the state of a running purge, and
the record of backups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import utcnow


class RetentionRule(Base):
    """How many days one kind of data is kept (保留期限), set by an administrator; a kind
    without a row keeps the default of ``maintenance.config.RETENTION_DEFAULTS``."""

    __tablename__ = "retention_rule"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    days: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_by: Mapped[str] = mapped_column(String(100), default="")


class PurgeRun(Base):
    """A purge of one kind under way: its cut-off is fixed when it starts, and each batch
    adds to ``deleted`` in the batch's own transaction, so a purge killed half way resumes
    with the same cut-off and the count already done. The row goes when the kind is done
    (and its audit row is written)."""

    __tablename__ = "purge_run"

    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    cutoff: Mapped[datetime] = mapped_column(DateTime)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deleted: Mapped[int] = mapped_column(Integer, default=0)
    batches: Mapped[int] = mapped_column(Integer, default=0)
    last_id: Mapped[int] = mapped_column(BigInteger, default=0)  # integer keys: done up to


class BackupRun(Base):
    """One backup (备份): when, by whom or by the schedule, the file and its size, or the
    reason it failed."""

    __tablename__ = "backup_run"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    trigger: Mapped[str] = mapped_column(String(20), default="manual")  # manual | schedule
    state: Mapped[str] = mapped_column(String(10), default="running")  # running | ok | failed
    path: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(Text)
