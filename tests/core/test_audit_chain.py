"""The audit chain against someone who can write to the database but has not got the key:
rewritten rows, a cut-off tail with a rewound head, TRUNCATE, and a lost or changed key."""

from __future__ import annotations

import hashlib
import json
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from yuqing.cli import app
from yuqing.core import audit
from yuqing.core.audit import Actor
from yuqing.core.settings import get_settings, reset_settings_cache

runner = CliRunner()


def _run(*args: str, code: int = 0) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result.output


def _has(output: str, *phrases: str) -> bool:
    """Whether the output says every phrase, whatever Rich's line wrapping did to it."""
    flat = "".join(output.split())
    return all("".join(phrase.split()) in flat for phrase in phrases)


def _write(session: Session, count: int, start: int = 1) -> None:
    for n in range(start, start + count):
        audit.record(
            session,
            actor=Actor(1, "张三", "10.0.0.1"),
            action="update",
            object_type="case",
            object_id=n,
            summary=f"修改第 {n} 件",
        )
    session.commit()


@contextmanager
def _as_intruder(engine: Engine) -> Iterator[Connection]:
    """A connection past the append-only triggers, as the database's owner could open."""
    with engine.begin() as connection:
        if engine.dialect.name == "sqlite":
            for name in ("audit_entry_no_update", "audit_entry_no_delete", "audit_head_no_delete"):
                connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        else:
            connection.execute(text("SET LOCAL session_replication_role = replica"))
        yield connection


def _plain_hash(row: dict[str, object], prev: str) -> str:
    """The chain's hash as the code computed it before the key: SHA-256 of the row's JSON,
    which anyone who reads the source can recompute."""
    at = row["at"] if isinstance(row["at"], datetime) else datetime.fromisoformat(str(row["at"]))
    fields = {
        "at": at.isoformat(timespec="microseconds"),
        **{
            k: row[k]
            for k in ("actor_id", "actor_name", "action", "object_type", "object_id", "summary")
        },
        "changes": row["changes"],
        "ip": row["ip"],
    }
    payload = json.dumps(
        {"prev": prev, "seq": row["seq"], **fields},
        ensure_ascii=False,
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def test_a_rewritten_row_with_recomputed_hashes_is_found(engine: Engine, session: Session) -> None:
    _write(session, 4)
    assert audit.verify(session).ok
    with _as_intruder(engine) as connection:
        rows = connection.execute(text("SELECT * FROM audit_entry ORDER BY seq")).mappings()
        prev = audit.GENESIS
        for row in [dict(r) for r in rows]:
            if row["seq"] == 2:
                row["summary"] = "无事发生"
            digest = _plain_hash(row, prev)
            connection.execute(
                text(
                    "UPDATE audit_entry SET summary = :s, prev_hash = :p, hash = :h WHERE seq = :q"
                ),
                {"s": row["summary"], "p": prev, "h": digest, "q": row["seq"]},
            )
            prev = digest
        connection.execute(text("UPDATE audit_head SET last_hash = :h"), {"h": prev})
    session.expire_all()
    problems = audit.verify(session).problems
    assert problems == ["第 1 条至第 4 条记录的内容与哈希不符（被改动，或审计密钥已更换）"]
    assert _has(_run("audit", "verify", code=1), "审计日志有 1 处问题")


def test_an_anchor_finds_a_cut_off_tail_and_a_rewound_head(
    engine: Engine, session: Session, tmp_path: Path
) -> None:
    _write(session, 5)
    printed = _run("audit", "anchor")
    line = next(x for x in printed.splitlines() if x.startswith(audit.ANCHOR_TAG))
    anchors = tmp_path / "anchors.txt"
    anchors.write_text(f"2026-12-06 交接\n{line}\n", encoding="utf-8")
    _write(session, 2, start=6)  # the desk goes on after the anchor
    assert _has(_run("audit", "verify", "--anchor", str(anchors)), "与 1 个锚点相符")
    assert _has(_run("audit", "verify", "--anchor", line), "与 1 个锚点相符")

    with _as_intruder(engine) as connection:  # cut rows 4–7, rewind the head to row 3
        connection.execute(text("DELETE FROM audit_entry WHERE seq >= 4"))
        third = connection.execute(text("SELECT hash FROM audit_entry WHERE seq = 3")).scalar()
        connection.execute(text("UPDATE audit_head SET seq = 3, last_hash = :h"), {"h": third})
    assert _has(_run("audit", "verify"), "共 3 条记录，哈希链无误")  # what a key cannot show
    cut = _run("audit", "verify", "--anchor", str(anchors), code=1)
    assert _has(cut, "锚点（第 5 条", "日志只到第 3 条", "链被截断")

    forged = line.replace("seq=5", "seq=3").replace(line.split("hash=")[1][:64], third)
    assert _has(_run("audit", "verify", "--anchor", forged, code=1), "签名不符")
    assert _has(_run("audit", "verify", "--anchor", str(tmp_path / "none"), code=2), "无法读取锚点")
    (tmp_path / "notes.txt").write_text("交接记录，没有锚点", encoding="utf-8")
    assert "没有找到锚点" in _run(
        "audit", "verify", "--anchor", str(tmp_path / "notes.txt"), code=2
    )

    with _as_intruder(engine) as connection:  # or remove the head altogether
        connection.execute(text("DELETE FROM audit_head"))
    session.expire_all()
    assert "链头（audit_head）缺失" in " ".join(audit.verify(session).problems)


def test_an_anchor_is_refused_for_a_broken_chain(engine: Engine, session: Session) -> None:
    assert _has(_run("audit", "anchor", code=1), "还没有记录")
    _write(session, 2)
    with _as_intruder(engine) as connection:
        connection.execute(text("UPDATE audit_entry SET summary = '改过' WHERE seq = 1"))
    assert _has(_run("audit", "anchor", code=1), "校验未通过")


def test_the_database_refuses_truncate_and_removing_the_head(
    engine: Engine, session: Session
) -> None:
    _write(session, 2)
    statements = ["DELETE FROM audit_entry", "DELETE FROM audit_head"]
    if engine.dialect.name == "postgresql":  # row triggers do not see TRUNCATE
        statements += [
            "TRUNCATE audit_entry",
            "TRUNCATE audit_head",
            "TRUNCATE audit_entry CASCADE",
        ]
    for statement in statements:
        with pytest.raises(DBAPIError, match=r"append-only|cannot be removed"), engine.begin() as c:
            c.execute(text(statement))
    assert audit.verify(session).rows == 2 and audit.verify(session).ok


def test_init_makes_a_private_key_that_the_database_never_holds(
    engine: Engine, session: Session
) -> None:
    output = _run("init")
    path = Path(get_settings().data_dir) / "audit_key"
    assert _has(output, "已生成审计日志密钥", str(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = path.read_text(encoding="utf-8").strip()
    assert len(key) == 64
    assert "已生成审计日志密钥" not in _run("init")  # made once
    _write(session, 1)
    with engine.connect() as connection:
        stored = [
            str(value)
            for table in ("audit_head", "audit_entry")
            for row in connection.execute(text(f"SELECT * FROM {table}"))
            for value in row
        ]
    assert stored and not any(key in value for value in stored)


def test_a_lost_or_changed_key_stops_writing_and_says_why(engine: Engine, session: Session) -> None:
    _write(session, 3)  # the first row makes the key when `yuqing init` has not
    path = Path(get_settings().data_dir) / "audit_key"
    original = path.read_text(encoding="utf-8")

    path.unlink()
    with pytest.raises(audit.AuditKeyError, match="审计密钥缺失"):
        _write(session, 1, start=4)
    session.rollback()
    assert not path.exists()  # a missing key is not silently replaced by a new one
    assert _has(_run("audit", "verify", code=1), "审计密钥缺失")
    assert _has(_run("init", code=2), "审计密钥缺失")

    path.write_text("f" * 64, encoding="utf-8")
    with pytest.raises(audit.AuditKeyError, match="审计密钥与日志不符"):
        _write(session, 1, start=4)
    session.rollback()
    problems = audit.verify(session).problems
    assert "不是签名日志的密钥" in problems[0]
    assert problems[1] == "第 1 条至第 3 条记录的内容与哈希不符（被改动，或审计密钥已更换）"

    path.write_text(original, encoding="utf-8")  # restored from the backup
    _write(session, 1, start=4)
    assert audit.verify(session).ok and audit.verify(session).rows == 4


def test_the_key_may_come_from_the_environment(
    engine: Engine, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("YUQING_AUDIT_KEY", "k" * 40)
    reset_settings_cache()
    _write(session, 2)
    assert audit.verify(session).ok
    assert not (Path(get_settings().data_dir) / "audit_key").exists()

    monkeypatch.setenv("YUQING_AUDIT_KEY", "short")
    reset_settings_cache()
    with pytest.raises(audit.AuditKeyError, match="太短"):
        _write(session, 1, start=3)
    session.rollback()

    monkeypatch.delenv("YUQING_AUDIT_KEY")  # a file key made now is another key
    reset_settings_cache()
    with pytest.raises(audit.AuditKeyError, match="缺失"):
        _write(session, 1, start=3)


def test_the_desk_answers_503_in_chinese_and_saves_nothing_without_its_key(
    engine: Engine, session: Session
) -> None:
    from sqlalchemy import func, select

    from tests.support import desk_client
    from yuqing.org.models import Unit

    with desk_client(engine, role="publicity") as client:  # signing in starts the chain
        (Path(get_settings().data_dir) / "audit_key").unlink()
        answer = client.post(
            "/org/units",
            data={"name": "计算机学院", "csrf_token": client.cookies.get("yuqing_csrf")},
            follow_redirects=False,
        )
    assert answer.status_code == 503
    assert "审计密钥缺失或与审计日志不符" in answer.text and "audit_key" not in answer.text
    assert session.execute(select(func.count()).select_from(Unit)).scalar_one() == 0
