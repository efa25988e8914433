"""The face of the maintenance domain: backups recorded and kept, their failures told to
the administrators; the retention rules and purge (``retention``); people's data
(``people``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from yuqing.auth import service as auth
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.maintenance import backup as backups
from yuqing.maintenance.backup import BackupError, BackupResult
from yuqing.maintenance.models import BackupRun
from yuqing.maintenance.retention import (
    RetentionError,
    list_rules,
    list_unfinished,
    purge_all,
    purge_kind,
    update_rule,
)
from yuqing.notify import service as notify
from yuqing.notify.schemas import Message

MANAGE = "maintenance.manage"

__all__ = [
    "MANAGE",
    "BackupError",
    "RetentionError",
    "get_last_backup",
    "list_backup_runs",
    "list_rules",
    "list_unfinished",
    "purge_all",
    "purge_kind",
    "run_backup",
    "update_rule",
]


def list_backup_runs(session: Session, *, limit: int = 20) -> list[BackupRun]:
    statement = select(BackupRun).order_by(BackupRun.id.desc()).limit(limit)
    return list(session.execute(statement).scalars())


def get_last_backup(session: Session, *, ok: bool = True) -> BackupRun | None:
    statement = select(BackupRun).order_by(BackupRun.id.desc()).limit(1)
    if ok:
        statement = statement.where(BackupRun.state == "ok")
    return session.execute(statement).scalar_one_or_none()


def count_schedule_runs_since(session: Session, *, hours: float) -> int:
    since = utcnow() - timedelta(hours=hours)
    statement = select(BackupRun.id).where(
        BackupRun.trigger == "schedule", BackupRun.started_at >= since
    )
    return len(list(session.execute(statement).scalars()))


def run_backup(
    new_session: Callable[[], Session],
    *,
    trigger: str = "manual",
    keep: int | None = None,
    target_dir: Path | None = None,
) -> BackupResult:
    """One backup, recorded in ``backup_run`` (its own short transactions, before and
    after: the copy itself holds no transaction of the desk), then the older ones beyond
    ``keep`` deleted. A failure is recorded and told to the administrators (desk inbox and
    e-mail), then raised."""
    make = new_session
    settings = get_settings()
    with make() as session:
        run = BackupRun(trigger=trigger, state="running", started_at=utcnow())
        session.add(run)
        session.commit()
        run_id = run.id
    folder = target_dir or backups.backup_dir(settings)
    try:
        result = backups.create_backup(target_dir=folder, settings=settings)
    except Exception as error:
        message = str(error) if isinstance(error, BackupError) else f"备份失败：{error!r}"
        with make() as session:
            run = session.get_one(BackupRun, run_id)
            run.state, run.error, run.finished_at = "failed", message, utcnow()
            notify.enqueue_for_accounts(
                session,
                message=Message(
                    title="工作台备份失败",
                    text=f"{message}\n请到“备份与数据保留”页面查看。",
                    level="urgent",
                    link="/admin/maintenance",
                ),
                user_ids=auth.list_user_ids_holding(session, permission=MANAGE),
                dedupe_key=f"backup-failed:{run_id}",
                source_type="backup",
                source_id=run_id,
            )
            session.commit()
        if isinstance(error, BackupError):
            raise
        raise BackupError(message) from error
    backups.prune(folder, keep=keep if keep is not None else settings.backup_keep)
    with make() as session:
        run = session.get_one(BackupRun, run_id)
        run.state, run.path, run.size, run.finished_at = (
            "ok",
            str(result.path),
            result.size,
            utcnow(),
        )
        session.commit()
    return result
