"""The maintenance thread's work: the daily backup at its hour (once a day, keeping N), a
purge a crash left unfinished resumed, and the SQLite WAL truncated by the checkpoint."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session

from tests.maintenance.conftest import fill_desk
from yuqing.core.database import is_sqlite
from yuqing.core.settings import reset_settings_cache
from yuqing.core.timeutil import to_local, utcnow
from yuqing.maintenance import backup, jobs
from yuqing.maintenance.models import BackupRun, PurgeRun


def test_the_daily_backup_runs_once_at_its_hour_and_keeps_the_count(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_desk(engine, tmp_path / "var")
    local = to_local(utcnow())
    assert local is not None
    monkeypatch.setenv("YUQING_BACKUP_HOUR", str((local.hour + 1) % 24))
    monkeypatch.setenv("YUQING_BACKUP_DIR", str(tmp_path / "scheduled"))
    monkeypatch.setenv("YUQING_BACKUP_KEEP", "1")
    reset_settings_cache()
    schedule = jobs.Schedule()
    jobs.backup_if_due(schedule)
    assert backup.list_backups(tmp_path / "scheduled") == []  # not its hour
    monkeypatch.setenv("YUQING_BACKUP_HOUR", str(local.hour))
    reset_settings_cache()
    jobs.backup_if_due(schedule)
    jobs.backup_if_due(schedule)  # once a day
    jobs.backup_if_due(jobs.Schedule())  # another process of the desk: the table says done
    assert len(backup.list_backups(tmp_path / "scheduled")) == 1
    with Session(engine) as session:
        runs = list(session.execute(select(BackupRun)).scalars())
    assert [(r.trigger, r.state) for r in runs] == [("schedule", "ok")]


def test_an_unfinished_purge_is_resumed_when_the_thread_starts(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill_desk(engine, tmp_path / "var")
    monkeypatch.setenv("YUQING_PURGE_HOUR", "-1")
    reset_settings_cache()
    with Session(engine) as session:
        session.add(PurgeRun(kind="sessions", cutoff=utcnow(), deleted=4, batches=1, last_id=0))
        session.commit()
    jobs.purge_if_due(jobs.Schedule(), threading.Event())
    with Session(engine) as session:
        assert session.get(PurgeRun, "sessions") is None


def test_the_checkpoint_truncates_the_wal(engine: Engine, tmp_path: Path) -> None:
    if not is_sqlite(engine):
        assert jobs.checkpoint_wal(engine) is None
        return
    fill_desk(engine, tmp_path / "var")
    from yuqing.mentions.models import Mention

    with Session(engine) as session:
        for _ in range(5):
            session.execute(update(Mention).values(text=Mention.text + "。"))
            session.commit()
    wal = Path(f"{engine.url.database}-wal")
    assert wal.stat().st_size > 100_000
    result = jobs.checkpoint_wal(engine)
    assert result is not None and result[0] == 0
    assert wal.stat().st_size == 0
