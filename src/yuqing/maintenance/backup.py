"""Backups and restores of a whole desk: the database (SQLite's online backup API, or
``pg_dump`` from one exported snapshot) and the files of the data folder beside it, with a
manifest. A backup is written under a temporary name and renamed when complete, so a full
disk or a crash never leaves a half file where a good backup was; see docs/operations.md.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, cast

from sqlalchemy import Connection, Engine, inspect, text

import yuqing
from yuqing.core.database import get_engine, is_sqlite, make_engine, upgrade_database
from yuqing.core.settings import Settings, get_settings
from yuqing.maintenance.archive import (
    ArchiveError,
    Manifest,
    Writer,
    extract_member,
    open_archive,
)

PREFIX = "yuqing-backup-"
SUFFIX = ".tar.gz"
DATABASE_SQLITE = "database/yuqing.db"
DATABASE_SQL = "database/postgresql.sql"
FILES = "files/"
# Never copied with the data: the keys (kept apart from the data on purpose, see
# docs/operations.md), the search index (rebuilt from the database) and the backups.
KEY_FILES = frozenset({"audit_key", "secret_key", "push_token", "pseudonym_key"})
SKIPPED_DIRS = frozenset({"search_index", "backups"})
PG_MAJOR = 15


class BackupError(RuntimeError):
    """A backup or restore that could not be done; the message (Chinese) says why and what
    to do."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    size: int
    manifest: Manifest


def backup_dir(settings: Settings | None = None) -> Path:
    settings = settings or get_settings()
    return Path(settings.backup_dir) if settings.backup_dir else settings.data_dir / "backups"


def _sqlite_path(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def _database_files(settings: Settings) -> set[Path]:
    url = desk_url()
    if not is_sqlite(url):
        return set()
    path = _sqlite_path(url).resolve()
    return {path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")}


def data_files(settings: Settings) -> Iterator[tuple[str, Path]]:
    """The data folder's files that a backup carries (uploads, model files, word lists …):
    everything but the database, the keys, the search index and the backups."""
    root = settings.data_dir
    if not root.is_dir():
        return
    skip = _database_files(settings)
    backups = backup_dir(settings).resolve()
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(
            d
            for d in dirs
            if not (here == root and d in SKIPPED_DIRS) and (here / d).resolve() != backups
        )
        for name in sorted(files):
            path = here / name
            if here == root and name in KEY_FILES:
                continue
            if name.startswith(".") or path.resolve() in skip or not path.is_file():
                continue
            yield path.relative_to(root).as_posix(), path


def table_counts(connection: Connection) -> dict[str, int]:
    """The row count of every table of the database (the full-text index's own tables
    too), read in the caller's transaction."""
    names = sorted(inspect(connection).get_table_names())
    return {
        name: int(connection.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one())
        for name in names
    }


def _audit_head(connection: Connection) -> tuple[int, str, str]:
    row = connection.execute(text("SELECT seq, last_hash, key_id FROM audit_head WHERE id = 1"))
    found = row.first()
    return (0, "", "") if found is None else (int(found[0]), str(found[1]), str(found[2] or ""))


def _revision(connection: Connection) -> str:
    return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _disk_message(error: OSError, folder: Path) -> str:
    if error.errno in (errno.ENOSPC, errno.EFBIG, errno.EDQUOT):
        return (
            f"备份失败：{folder} 所在磁盘空间不足（{error.strerror}）。"
            "未完成的文件已删除，之前的备份保持不变；请腾出空间或换一个备份目录后重试"
        )
    return f"备份失败：写入 {folder} 时出错（{error}）；之前的备份保持不变"


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S%fZ")


def create_backup(
    *, target_dir: Path | None = None, settings: Settings | None = None
) -> BackupResult:
    """Write one backup of the running desk into ``target_dir`` (default: the backup
    folder). Readers and writers go on while it runs: SQLite copies pages through its
    online backup API, PostgreSQL dumps one exported snapshot."""
    settings = settings or get_settings()
    folder = target_dir or backup_dir(settings)
    now = datetime.now(UTC)
    final = folder / f"{PREFIX}{_stamp(now)}{SUFFIX}"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        handle = tempfile.NamedTemporaryFile(  # noqa: SIM115
            dir=folder, prefix=f".{PREFIX}", suffix=".partial", delete=False
        )
    except OSError as error:
        raise BackupError(_disk_message(error, folder)) from error
    partial = Path(handle.name)
    try:
        # The database copy is made beside the backups (same disk), not in /tmp.
        with handle, tempfile.TemporaryDirectory(prefix=f".{PREFIX}", dir=folder) as scratch:
            manifest = _write(cast(BinaryIO, handle), Path(scratch), settings, now)
            handle.flush()
            os.fsync(handle.fileno())
        partial.chmod(0o600)
        os.replace(partial, final)
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise BackupError(_disk_message(error, folder)) from error
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    return BackupResult(final, final.stat().st_size, manifest)


def desk_url() -> str:
    """The URL of the database the desk runs on (the engine in use)."""
    return get_engine().url.render_as_string(hide_password=False)


def _write(handle: BinaryIO, scratch: Path, settings: Settings, now: datetime) -> Manifest:
    writer = Writer(handle)
    url = desk_url()
    if is_sqlite(url):
        copy = scratch / "yuqing.db"
        _sqlite_copy(_sqlite_path(url), copy)
        engine = make_engine(f"sqlite:///{copy}")
        try:
            with engine.connect() as connection:
                manifest = _manifest(connection, "sqlite", now)
        finally:
            engine.dispose()
        # The copy is a plain file now: no WAL beside it.
        writer.add_file(DATABASE_SQLITE, copy)
    else:
        dump = scratch / "postgresql.sql"
        manifest = _pg_dump(url, dump, now)
        writer.add_file(DATABASE_SQL, dump)
    for name, path in data_files(settings):
        writer.add_file(FILES + name, path)
    writer.finish(manifest)
    return manifest


def _manifest(connection: Connection, database: str, now: datetime) -> Manifest:
    seq, head_hash, key_id = _audit_head(connection)
    return Manifest(
        version=yuqing.__version__,
        schema_revision=_revision(connection),
        database=database,
        created_at=now.isoformat(timespec="seconds"),
        counts=table_counts(connection),
        audit_seq=seq,
        audit_hash=head_hash,
        audit_key_id=key_id,
    )


def _sqlite_copy(source: Path, copy: Path) -> None:
    """A consistent copy of a live SQLite database by the online backup API (pages copied
    in steps; a write in between restarts the copy of what changed, never a torn file)."""
    if not source.exists():
        raise BackupError(f"备份失败：数据库文件 {source} 不存在")
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    dst = sqlite3.connect(copy)
    try:
        src.execute("PRAGMA busy_timeout=30000")
        src.backup(dst, pages=4096)
        dst.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.OperationalError as error:
        if "full" in str(error).lower():
            raise OSError(errno.ENOSPC, str(error)) from error
        raise BackupError(f"备份失败：复制数据库时出错（{error}）") from error
    finally:
        dst.close()
        src.close()


def _libpq_url(url: str) -> str:
    return re.sub(r"^postgresql\+\w+://", "postgresql://", url)


def pg_tool(name: str) -> str:
    """The path of ``pg_dump``/``psql`` whose major version matches the server's (15)."""
    found = shutil.which(name)
    if found is None:
        raise BackupError(
            f"找不到 {name}：PostgreSQL 的备份与恢复需要它（Debian：apt-get install "
            f"postgresql-client-{PG_MAJOR}）"
        )
    return found


def _check_pg_versions(connection: Connection, tool: str) -> None:
    server = int(connection.execute(text("SHOW server_version_num")).scalar_one()) // 10000
    output = subprocess.run([tool, "--version"], capture_output=True, text=True, check=False)
    match = re.search(r"(\d+)(?:\.\d+)?", output.stdout)
    client = int(match.group(1)) if match else 0
    if client != server:
        raise BackupError(
            f"{Path(tool).name} 的版本（{client}）与数据库服务器（{server}）不一致：请安装 "
            f"postgresql-client-{server}，版本不同的 pg_dump 可能拒绝工作或写出新服务器才能读的备份"
        )


def _pg_dump(url: str, dump: Path, now: datetime) -> Manifest:
    """Counts and dump from one snapshot: a repeatable-read transaction exports it, counts
    the tables in it, and ``pg_dump --snapshot`` dumps exactly what was counted."""
    tool = pg_tool("pg_dump")
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            _check_pg_versions(connection, tool)
            connection.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY"))
            snapshot = str(connection.execute(text("SELECT pg_export_snapshot()")).scalar_one())
            manifest = _manifest(connection, "postgresql", now)
            command = [
                tool,
                "--format=plain",
                "--no-owner",
                "--no-privileges",
                f"--snapshot={snapshot}",
                f"--file={dump}",
                f"--dbname={_libpq_url(url)}",
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=False)
            connection.rollback()
    finally:
        engine.dispose()
    if done.returncode != 0:
        problem = done.stderr.strip()
        if "No space left" in problem or "File too large" in problem:
            raise OSError(errno.ENOSPC, problem)
        raise BackupError(f"备份失败：pg_dump 出错：{problem}")
    return manifest


# --- keeping N ------------------------------------------------------------------------


def list_backups(folder: Path) -> list[Path]:
    """The complete backups in ``folder``, newest first."""
    if not folder.is_dir():
        return []
    found = [p for p in folder.glob(f"{PREFIX}*{SUFFIX}") if p.is_file()]
    return sorted(found, key=lambda p: p.name, reverse=True)


def prune(folder: Path, *, keep: int) -> list[Path]:
    """Delete all but the ``keep`` newest backups, and what a backup killed half way left
    (a partial file, a scratch folder) once it is a day old (a running backup's are
    younger); returns what was deleted."""
    gone = list_backups(folder)[max(keep, 1) :]
    for path in gone:
        path.unlink(missing_ok=True)
    if folder.is_dir():
        stale = time.time() - 86400
        for left in folder.glob(f".{PREFIX}*"):
            if left.stat().st_mtime < stale:
                if left.is_dir():
                    shutil.rmtree(left, ignore_errors=True)
                else:
                    left.unlink(missing_ok=True)
                gone.append(left)
    return gone


# --- restore --------------------------------------------------------------------------


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    from yuqing.core.database import alembic_config

    config = alembic_config(make_engine("sqlite://"))
    return {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}


def _refuse_non_empty(settings: Settings) -> None:
    root = settings.data_dir
    if root.exists() and not root.is_dir():
        raise BackupError(f"恢复目标 {root} 不是目录")
    if root.is_dir():
        others = sorted(p.name for p in root.iterdir() if p.name not in KEY_FILES)
        if others:
            shown = "、".join(others[:5])
            raise BackupError(
                f"恢复目标数据目录 {root} 不是空的（已有 {shown}）：恢复只写入空目录，"
                "不会覆盖现有数据；请换一个空目录（YUQING_DATA_DIR）后重试"
            )
    url = settings.resolved_database_url()
    if not is_sqlite(url):
        engine = make_engine(url)
        try:
            with engine.connect() as connection:
                tables = inspect(connection).get_table_names()
        finally:
            engine.dispose()
        if tables:
            raise BackupError(
                f"恢复目标数据库已有 {len(tables)} 张表：恢复只写入空数据库，请新建一个空库后重试"
            )


def restore_backup(path: Path, *, settings: Settings | None = None) -> Manifest:
    """Restore ``path`` into the empty data folder (and empty database) of ``settings``,
    then bring the schema up to this version. Refuses a damaged backup, a backup of a newer
    schema or version, and a target that holds data."""
    settings = settings or get_settings()
    try:
        with open_archive(path) as opened:
            manifest = opened.manifest
            if manifest.schema_revision not in known_revisions():
                raise BackupError(
                    f"备份来自更新的版本（Yuqing {manifest.version}，数据库结构 "
                    f"{manifest.schema_revision}），本程序（{yuqing.__version__}）不认识这个结构："
                    "请先升级 Yuqing 再恢复"
                )
            _refuse_non_empty(settings)
            url = settings.resolved_database_url()
            wants = "sqlite" if is_sqlite(url) else "postgresql"
            if manifest.database != wants:
                raise BackupError(
                    f"这是 {manifest.database} 的备份，恢复目标是 {wants}：请把 "
                    "YUQING_DATABASE_URL 设为同种数据库"
                )
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            for name in manifest.members:
                if name.startswith(FILES):
                    relative = Path(name.removeprefix(FILES))
                    if relative.is_absolute() or ".." in relative.parts:
                        raise BackupError(f"备份中的文件名不安全：{name}")
                    extract_member(opened, name, settings.data_dir / relative)
            if wants == "sqlite":
                extract_member(opened, DATABASE_SQLITE, _sqlite_path(url))
            else:
                with tempfile.TemporaryDirectory(prefix="yuqing-restore-") as scratch:
                    dump = Path(scratch) / "postgresql.sql"
                    extract_member(opened, DATABASE_SQL, dump)
                    _psql(url, dump)
    except ArchiveError as error:
        raise BackupError(str(error)) from error
    engine = make_engine(url)
    try:
        upgrade_database(engine)
    finally:
        engine.dispose()
    return manifest


def _psql(url: str, dump: Path) -> None:
    tool = pg_tool("psql")
    with dump.open(encoding="utf-8") as lines:
        recreates_public = any(line.startswith("CREATE SCHEMA public;") for line in lines)
    if recreates_public:
        # The dumped database had made its own public schema; the target's empty default
        # one (checked empty above) makes way for it.
        engine = make_engine(url)
        try:
            with engine.begin() as connection:
                connection.execute(text("DROP SCHEMA IF EXISTS public"))
        finally:
            engine.dispose()
    command = [
        tool,
        "--quiet",
        "--no-psqlrc",
        "--single-transaction",
        "-v",
        "ON_ERROR_STOP=1",
        f"--file={dump}",
        f"--dbname={_libpq_url(url)}",
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"恢复失败：psql 出错（数据库未改动）：{done.stderr.strip()[:2000]}")


def database_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return table_counts(connection)
