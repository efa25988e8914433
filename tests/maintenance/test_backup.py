"""Backups and restores on the real database: what goes in, what comes back, and the
refusals (damaged file, newer schema, non-empty target, full disk)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from tests.maintenance.conftest import fill_desk, use_target
from tests.support import make_user
from yuqing.cli import app
from yuqing.core import database
from yuqing.maintenance import archive, backup, upgrade
from yuqing.maintenance.models import BackupRun
from yuqing.notify.models import Notification

runner = CliRunner()


def _cli(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    return result.exit_code, result.output


def _one_backup(engine: Engine, tmp_path: Path) -> Path:
    fill_desk(engine, tmp_path / "var")
    code, output = _cli("backup", "--to", str(tmp_path / "backups"))
    assert code == 0, output
    [made] = backup.list_backups(tmp_path / "backups")
    return made


def test_backup_restores_into_an_empty_folder_with_the_audit_chain_intact(
    engine: Engine, tmp_path: Path, restore_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _one_backup(engine, tmp_path)
    manifest = archive.read_manifest(made)
    assert manifest.counts["mention"] > 100
    assert manifest.schema_revision == upgrade.head_revision(engine)
    assert set(manifest.members) >= {
        "files/imports/upload-1.csv",
        "files/models/versions/v0-test.bin",
    }
    assert not any("audit_key" in m or "backups/" in m for m in manifest.members)
    with Session(engine) as session:
        [run] = session.execute(select(BackupRun)).scalars()
        assert run.state == "ok" and run.size == made.stat().st_size
    before = backup.database_counts(engine)
    key = (tmp_path / "var" / "audit_key").read_text().strip()

    url = use_target(restore_target, monkeypatch)
    monkeypatch.setenv("YUQING_AUDIT_KEY", key)
    code, output = _cli("restore", str(made))
    assert code == 0, output
    restored = database.make_engine(url)
    after = backup.database_counts(restored)
    restored.dispose()
    # The backup_run row was written after the copy was taken: it is the one difference.
    assert {k: v for k, v in after.items() if k != "backup_run"} == {
        k: v for k, v in before.items() if k != "backup_run"
    }
    assert after == {**manifest.counts, **{k: after[k] for k in after if k not in manifest.counts}}
    assert (
        (restore_target / "imports" / "upload-1.csv").read_text(encoding="utf-8").startswith("标题")
    )
    assert (restore_target / "models" / "versions" / "v0-test.bin").read_bytes() == (
        tmp_path / "var" / "models" / "versions" / "v0-test.bin"
    ).read_bytes()
    code, output = _cli("audit", "verify")
    assert code == 0, output
    assert "审计日志完整" in output


def test_a_truncated_or_altered_backup_is_refused(
    engine: Engine, tmp_path: Path, restore_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _one_backup(engine, tmp_path)
    data = made.read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    for offset in (4, len(data) // 2, len(data) - 80):  # gzip header, body, near the end
        altered = tmp_path / f"altered-{offset}.tar.gz"
        changed = bytearray(data)
        changed[offset] ^= 0x01
        altered.write_bytes(bytes(changed))
    use_target(restore_target, monkeypatch)
    code, output = _cli("restore", str(truncated))
    assert code == 2 and "截断" in output
    for offset in (4, len(data) // 2, len(data) - 80):
        code, output = _cli("restore", str(tmp_path / f"altered-{offset}.tar.gz"))
        assert code == 2, output
        assert "已损坏" in output or "截断" in output, output
    assert not restore_target.exists() or not any(restore_target.iterdir())


def test_a_backup_of_a_newer_schema_is_refused(
    engine: Engine, tmp_path: Path, restore_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    newer = tmp_path / "newer.tar.gz"
    with newer.open("wb") as handle:
        writer = archive.Writer(handle)
        db = tmp_path / "empty.db"
        db.write_bytes(b"")
        writer.add_file(backup.DATABASE_SQLITE, db)
        writer.finish(
            archive.Manifest(
                version="9.0.0", schema_revision="9999", database="sqlite", created_at="2030"
            )
        )
    use_target(restore_target, monkeypatch)
    code, output = _cli("restore", str(newer))
    assert code == 2
    assert "更新的版本" in output and "9999" in output


def test_restore_refuses_a_folder_that_holds_data(
    engine: Engine, tmp_path: Path, restore_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = _one_backup(engine, tmp_path)
    restore_target.mkdir(parents=True)
    (restore_target / "notes.txt").write_text("keep me", encoding="utf-8")
    use_target(restore_target, monkeypatch)
    code, output = _cli("restore", str(made))
    assert code == 2 and "不是空的" in output
    assert (restore_target / "notes.txt").read_text(encoding="utf-8") == "keep me"


def test_a_full_disk_keeps_the_previous_backup_and_tells_the_administrators(
    engine: Engine, tmp_path: Path
) -> None:
    made = _one_backup(engine, tmp_path)
    make_user(engine, "root_admin", "admin")
    # Incompressible data larger than the file size limit below.
    (tmp_path / "var" / "models" / "big.bin").write_bytes(os.urandom(6 * 1024 * 1024))
    limit = 3 * 1024 * 1024
    script = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, {limit}))\n"
        "from yuqing.cli import app\n"
        "sys.argv = ['yuqing', 'backup', '--to', sys.argv[1]]\n"
        "app()\n"
    )
    env = {
        **os.environ,
        "YUQING_DATABASE_URL": database.get_engine().url.render_as_string(hide_password=False),
    }
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "backups")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert "磁盘空间不足" in done.stdout
    assert backup.list_backups(tmp_path / "backups") == [made]
    assert not list((tmp_path / "backups").glob(".*partial"))
    archive.check_file(made)  # still whole
    with Session(engine) as session:
        runs = list(session.execute(select(BackupRun).order_by(BackupRun.id)).scalars())
        assert [r.state for r in runs] == ["ok", "failed"]
        assert "磁盘空间不足" in (runs[-1].error or "")
        told = session.execute(
            select(Notification).where(Notification.source_type == "backup")
        ).scalars()
        assert any(n.channel == "inbox" and "备份失败" in n.title for n in told)


def test_backups_beyond_the_count_kept_are_deleted(engine: Engine, tmp_path: Path) -> None:
    fill_desk(engine, tmp_path / "var")
    for _ in range(3):
        code, output = _cli("backup", "--to", str(tmp_path / "backups"), "--keep", "2")
        assert code == 0, output
    kept = backup.list_backups(tmp_path / "backups")
    assert len(kept) == 2
    with tarfile.open(fileobj=io.BytesIO(kept[0].read_bytes()[: -archive.TRAILER_LENGTH])) as tar:
        assert archive.MANIFEST in tar.getnames()  # an ordinary tar.gz under the trailer


def test_pg_dump_missing_or_of_another_version_is_refused_with_advice(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("pg_dump backs up PostgreSQL only")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    monkeypatch.setenv("PATH", str(bin_dir))
    code, output = _cli("backup", "--to", str(tmp_path / "backups"))
    assert code == 1 and "找不到 pg_dump" in output and "postgresql-client-15" in output
    old = bin_dir / "pg_dump"
    old.write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 14.11'\n", encoding="utf-8")
    old.chmod(0o755)
    code, output = _cli("backup", "--to", str(tmp_path / "backups"))
    assert code == 1 and "版本（14）与数据库服务器（15）不一致" in output
    assert backup.list_backups(tmp_path / "backups") == []
