"""Timed work of the maintenance domain, run by its own runner thread: the WAL checkpoint
(SQLite) and free memory handed back to the system, the daily backup and the daily
retention purge (a purge left unfinished by a crash resumes at once)."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from yuqing.core.database import get_engine, is_sqlite, new_session
from yuqing.core.memory import release_free_memory
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import to_local, utcnow
from yuqing.maintenance import retention
from yuqing.maintenance import service as maintenance

log = logging.getLogger(__name__)

# How long the checkpoint may wait for readers to leave the WAL before it gives up until
# the next round (writers wait while a TRUNCATE checkpoint waits); longer once the WAL has
# passed the size SQLite is asked to keep it to, so that it cannot keep growing.
CHECKPOINT_BUSY_MS = 1000
CHECKPOINT_BUSY_OVER_LIMIT_MS = 5000
WAL_LIMIT_BYTES = 64 * 1024 * 1024


def checkpoint_wal(engine: Engine | None = None) -> tuple[int, int, int] | None:
    """Copy the WAL back into the database file and truncate it to zero bytes when no
    reader still needs it (``PRAGMA wal_checkpoint(TRUNCATE)``); ``(busy, wal pages,
    pages checkpointed)``, or None off SQLite."""
    engine = engine or get_engine()
    if not is_sqlite(engine):
        return None
    path = engine.url.database
    if not path or path == ":memory:":
        return None
    wal = Path(f"{path}-wal")
    over = wal.exists() and wal.stat().st_size > WAL_LIMIT_BYTES
    busy = CHECKPOINT_BUSY_OVER_LIMIT_MS if over else CHECKPOINT_BUSY_MS
    connection = sqlite3.connect(path, timeout=busy / 1000)
    try:
        connection.execute(f"PRAGMA busy_timeout={busy}")
        row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    except sqlite3.OperationalError as error:  # locked past the wait: next round
        log.info("WAL checkpoint skipped: %s", error)
        return None
    finally:
        connection.close()
    if row[0]:
        log.info("WAL checkpoint could not truncate (readers present): %s", tuple(row))
    return int(row[0]), int(row[1]), int(row[2])


def _local_day_and_hour() -> tuple[date, int]:
    local = to_local(utcnow())
    assert local is not None
    return local.date(), local.hour


class Schedule:
    """What the maintenance thread has done today (in this process)."""

    def __init__(self) -> None:
        self.backup_day: date | None = None
        self.purge_day: date | None = None
        self.resumed = False


def backup_if_due(schedule: Schedule) -> None:
    settings = get_settings()
    day, hour = _local_day_and_hour()
    if settings.backup_hour < 0 or hour != settings.backup_hour or schedule.backup_day == day:
        return
    schedule.backup_day = day
    with new_session() as session:
        if maintenance.count_schedule_runs_since(session, hours=20):
            return  # another process of this desk took today's backup
    try:
        maintenance.run_backup(new_session, trigger="schedule")
    except maintenance.BackupError as error:
        log.error("scheduled backup failed: %s", error)


def purge_if_due(schedule: Schedule, stop: threading.Event) -> None:
    settings = get_settings()
    if not schedule.resumed:
        schedule.resumed = True
        with new_session() as session:
            unfinished = [run.kind for run in retention.list_unfinished(session)]
        for kind in unfinished:  # a purge a crash interrupted
            retention.purge_kind(
                new_session, kind=kind, batch=settings.purge_batch, stop=stop.is_set
            )
    day, hour = _local_day_and_hour()
    if settings.purge_hour < 0 or hour != settings.purge_hour or schedule.purge_day == day:
        return
    schedule.purge_day = day
    for kind in retention.RETENTION_KINDS:
        if stop.is_set():
            return
        retention.purge_kind(new_session, kind=kind, batch=settings.purge_batch, stop=stop.is_set)


def run_forever(stop: threading.Event, *, every: float | None = None) -> None:
    """The maintenance loop: every ``wal_checkpoint_seconds`` the checkpoint and free memory
    given back to the system (``core.memory``); the backup and the purge when their hour
    comes."""
    schedule = Schedule()
    interval = every or get_settings().wal_checkpoint_seconds
    last_due_check = 0.0
    while not stop.wait(interval):
        try:
            checkpoint_wal()
            release_free_memory()
            if time.monotonic() - last_due_check >= 60:
                last_due_check = time.monotonic()
                backup_if_due(schedule)
                purge_if_due(schedule, stop)
        except Exception:  # one bad round must not end the loop
            log.exception("maintenance round failed")
