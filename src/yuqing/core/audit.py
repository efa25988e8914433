"""The audit log (审计日志): one append-only row per user action, chained by hash.

It lives in core because every domain writes to it, and imports run down to core. Each row
holds who, when, what, the object and the fields changed (before/after), the hash of the
row before it and its own hash over all of that. Writers take the row lock of the one
``audit_head`` row first, so the chain never forks; ``verify`` recomputes the chain and
names the first row that was edited, removed or inserted out of order. Database triggers
also refuse UPDATE and DELETE on the table (see the migration).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, Integer, Select, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from yuqing.core.database import Base
from yuqing.core.timeutil import format_local, utcnow
from yuqing.core.xlsx import neutralise

GENESIS = "0" * 64


class AuditHead(Base):
    """The end of the audit chain: its sequence number and hash."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)


class AuditEntry(Base):
    """One audit row."""

    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_at", "at"),
        Index("ix_audit_entry_object", "object_type", "object_id"),
        Index("ix_audit_entry_actor", "actor_id"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_id: Mapped[int | None] = mapped_column(Integer)  # no FK: rows outlive accounts
    actor_name: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str | None] = mapped_column(String(64))
    summary: Mapped[str] = mapped_column(Text, default="")
    changes: Mapped[str] = mapped_column(Text, default="{}")  # JSON {field: [before, after]}
    ip: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


@dataclass(frozen=True)
class Actor:
    """Who acts: an account, or the system itself (scheduler, CLI)."""

    user_id: int | None
    name: str
    ip: str | None = None


SYSTEM = Actor(None, "系统")

ACTIONS = {
    "create": "新建",
    "update": "修改",
    "delete": "删除",
    "login": "登录",
    "login_failed": "登录失败",
    "logout": "退出",
    "export": "导出",
    "import": "导入",
    "permission": "权限变更",
    "password": "修改密码",
    "token": "令牌",
}


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _digest(prev_hash: str, seq: int, fields: Mapping[str, Any]) -> str:
    payload = _json({"prev": prev_hash, "seq": seq, **fields})
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict[str, Any]:
    return {
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor_id": entry.actor_id,
        "actor_name": entry.actor_name,
        "action": entry.action,
        "object_type": entry.object_type,
        "object_id": entry.object_id,
        "summary": entry.summary,
        "changes": entry.changes,
        "ip": entry.ip,
    }


def diff(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Fields whose value differs: ``{field: [before, after]}``."""
    keys = dict.fromkeys([*before, *after])
    return {k: [before.get(k), after.get(k)] for k in keys if before.get(k) != after.get(k)}


def record(
    session: Session,
    *,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: object = None,
    summary: str = "",
    changes: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Append one audit row in the caller's transaction (it commits or rolls back with the
    change it describes)."""
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash)
    ).first()
    if head is None:  # first row ever: create the head, then take its lock
        session.add(AuditHead(id=1, seq=0, last_hash=GENESIS))
        session.flush()
        return record(
            session,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=object_id,
            summary=summary,
            changes=changes,
        )
    seq, prev_hash = int(head[0]), str(head[1])
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.name[:100],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:64],
        summary=summary,
        changes=_json(dict(changes or {})),
        ip=actor.ip,
        prev_hash=prev_hash,
    )
    entry.hash = _digest(prev_hash, seq, _hashed_fields(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash))
    session.flush()
    return entry


@dataclass
class VerifyReport:
    """The result of checking the chain."""

    rows: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _entries(session: Session, batch: int = 5000) -> Iterator[AuditEntry]:
    last = 0
    while True:
        rows = (
            session.execute(
                select(AuditEntry)
                .where(AuditEntry.seq > last)
                .order_by(AuditEntry.seq)
                .limit(batch)
            )
            .scalars()
            .all()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq
        session.expunge_all()


def verify(session: Session) -> VerifyReport:
    """Recompute the chain; every edited, removed or forged row is named."""
    report = VerifyReport()
    prev_hash, expected_seq = GENESIS, 1
    for entry in _entries(session):
        report.rows += 1
        if entry.seq != expected_seq:
            report.problems.append(f"第 {expected_seq} 条至第 {entry.seq - 1} 条记录缺失（被删除）")
        if entry.prev_hash != prev_hash:
            report.problems.append(f"第 {entry.seq} 条记录的前序哈希不符（前一条被改动或删除）")
        if _digest(entry.prev_hash, entry.seq, _hashed_fields(entry)) != entry.hash:
            report.problems.append(f"第 {entry.seq} 条记录的内容与哈希不符（被改动）")
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    head = session.get(AuditHead, 1)
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev_hash):
        report.problems.append(
            f"链尾不符：记录到第 {expected_seq - 1} 条，链头记为第 {head.seq} 条（末尾记录被删除）"
        )
    return report


APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END",
)
APPEND_ONLY_POSTGRES = (
    "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit rows are append-only'; END $$",
    "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
)


# --- reading the log: filters, pages and exports ---------------------------------------


@dataclass(frozen=True)
class AuditFilters:
    """What the audit page asks for. Times are naive UTC (``until`` exclusive); the text
    filters match anywhere, ignoring case."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    text: str = ""


def _contains(column: Any, value: str) -> Any:
    return func.lower(column).contains(value.lower(), autoescape=True)


def _where(statement: Select[Any], filters: AuditFilters) -> Select[Any]:
    if filters.since is not None:
        statement = statement.where(AuditEntry.at >= filters.since)
    if filters.until is not None:
        statement = statement.where(AuditEntry.at < filters.until)
    if filters.actor.strip():
        statement = statement.where(_contains(AuditEntry.actor_name, filters.actor.strip()))
    if filters.action:
        statement = statement.where(AuditEntry.action == filters.action)
    if filters.object_type.strip():
        statement = statement.where(AuditEntry.object_type == filters.object_type.strip())
    if filters.object_id.strip():
        statement = statement.where(AuditEntry.object_id == filters.object_id.strip())
    if filters.text.strip():
        statement = statement.where(_contains(AuditEntry.summary, filters.text.strip()))
    return statement


def query(
    session: Session, filters: AuditFilters, limit: int = 50, offset: int = 0
) -> list[AuditEntry]:
    """Rows that pass ``filters``, newest first."""
    statement = _where(select(AuditEntry), filters).order_by(AuditEntry.seq.desc())
    return list(session.execute(statement.limit(limit).offset(offset)).scalars())


def count(session: Session, filters: AuditFilters) -> int:
    statement = _where(select(func.count()).select_from(AuditEntry), filters)
    return int(session.execute(statement).scalar_one())


def object_types(session: Session) -> list[str]:
    """The object types present in the log (for the filter's choices)."""
    statement = select(AuditEntry.object_type).distinct().order_by(AuditEntry.object_type)
    return list(session.execute(statement).scalars())


def changes_of(entry: AuditEntry) -> list[tuple[str, Any, Any]]:
    """The changed fields of a row as ``(field, before, after)``; a value that is not the
    stored ``{field: [before, after]}`` shape is shown whole as the "after" side."""
    try:
        parsed = json.loads(entry.changes or "{}")
    except ValueError:
        return [("changes", None, entry.changes)]
    if not isinstance(parsed, dict):
        return [("changes", None, parsed)]
    found: list[tuple[str, Any, Any]] = []
    for name, pair in parsed.items():
        if isinstance(pair, list) and len(pair) == 2:
            found.append((str(name), pair[0], pair[1]))
        else:
            found.append((str(name), None, pair))
    return found


EXPORT_HEADER = [
    "序号",
    "时间（北京时间）",
    "操作人",
    "IP",
    "操作",
    "对象类型",
    "对象",
    "摘要",
    "变更",
]
EXPORT_LIMIT = 100_000  # rows per export; a larger audit needs narrower filters


def _changes_text(entry: AuditEntry) -> str:
    return "；".join(f"{name}: {_json(old)} → {_json(new)}" for name, old, new in changes_of(entry))


def export_rows(session: Session, filters: AuditFilters) -> list[list[object]]:
    """The rows of an export (header first), newest first, every text cell neutralised."""
    rows: list[list[object]] = [list(EXPORT_HEADER)]
    for entry in query(session, filters, limit=EXPORT_LIMIT):
        row: list[object] = [
            entry.seq,
            format_local(entry.at, "%Y-%m-%d %H:%M:%S"),
            entry.actor_name,
            entry.ip or "",
            ACTIONS.get(entry.action, entry.action),
            entry.object_type,
            entry.object_id or "",
            entry.summary,
            _changes_text(entry),
        ]
        rows.append([neutralise(cell) for cell in row])
    return rows


def to_csv(rows: list[list[object]]) -> bytes:
    """UTF-8 with a byte-order mark, so Excel opens the Chinese text correctly."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def to_xlsx(rows: list[list[object]]) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("审计日志")
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()
