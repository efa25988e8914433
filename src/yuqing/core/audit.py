"""The audit log (审计日志): one append-only row per user action, chained by a keyed hash.

It lives in core because every domain writes to it, and imports run down to core. Each row
holds who, when, what, the object and the fields changed (before/after), the hash of the
row before it and its own HMAC-SHA256 over all of that. The key is kept outside the
database (``YUQING_AUDIT_KEY`` or ``<data_dir>/audit_key``), so someone who can write to
the database but has not got the key cannot recompute the chain after editing a row.
Writers take the row lock of the one ``audit_head`` row first, so the chain never forks;
``verify`` recomputes the chain and names the rows that were edited, removed or inserted
out of order. Database triggers refuse UPDATE, DELETE and (PostgreSQL) TRUNCATE on the log.
Cutting off the newest rows and rewinding the head is what a key cannot show; an anchor
(``make_anchor``) kept outside the desk can. docs/audit.md says what the chain proves.
Reading the log (filters, pages, exports) is ``yuqing.audit.search``, with its pages.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Index, Integer, String, Text, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from yuqing.core import keyfile
from yuqing.core.database import Base
from yuqing.core.settings import get_settings
from yuqing.core.text import strip_controls
from yuqing.core.timeutil import utcnow

GENESIS = "0" * 64


class AuditHead(Base):
    """The end of the audit chain: its sequence number and hash, and the fingerprint of
    the key that signs it (a one-way tag, not the key), so a desk started with another or
    a new key refuses to write instead of forking the chain under two keys."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, default=0)
    last_hash: Mapped[str] = mapped_column(String(64), default=GENESIS)
    key_id: Mapped[str] = mapped_column(String(16), default="")


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


# --- the key -------------------------------------------------------------------------

KEY_FILE = "audit_key"
MIN_KEY_LENGTH = 32


class AuditKeyError(RuntimeError):
    """The audit key is missing, too short, or not the one the chain was written with; the
    message (Chinese) says what to do."""


def key_path() -> Path:
    return Path(get_settings().data_dir) / KEY_FILE


def load_key() -> bytes | None:
    """The key that signs the chain: ``YUQING_AUDIT_KEY``, else the one in
    ``<data_dir>/audit_key``; None when neither exists."""
    configured = get_settings().audit_key.strip()
    if configured:
        if len(configured) < MIN_KEY_LENGTH:
            raise AuditKeyError(
                f"YUQING_AUDIT_KEY 太短（至少 {MIN_KEY_LENGTH} 个字符）：可用 "
                "python -c 'import secrets; print(secrets.token_hex(32))' 生成"
            )
        return configured.encode("utf-8")
    path = key_path()
    if not path.exists():
        return None
    text = path.read_text(encoding="utf-8").strip()
    if len(text) < MIN_KEY_LENGTH:
        raise AuditKeyError(f"审计密钥文件 {path} 内容不完整（至少 {MIN_KEY_LENGTH} 个字符）")
    return text.encode("utf-8")


def ensure_key(session: Session) -> tuple[Path | None, bool]:
    """Make ``<data_dir>/audit_key`` (mode 600) unless a key exists: ``(path, created)``;
    the path is None when the key comes from ``YUQING_AUDIT_KEY``. A chain already signed
    gets no new key: a lost key is restored from a backup, never silently replaced."""
    if get_settings().audit_key.strip():
        return None, False
    path = key_path()
    if path.exists():
        return path, False
    head = session.get(AuditHead, 1)
    if head is not None and head.key_id:
        return path, False
    return path, keyfile.create(path)


def key_id(key: bytes) -> str:
    """A short one-way fingerprint of the key (it tells keys apart, it does not reveal one)."""
    return hmac.new(key, b"yuqing audit key id", hashlib.sha256).hexdigest()[:16]


def _signing_key(head_key_id: str) -> bytes:
    """The key to sign the next row with, checked against the chain's fingerprint."""
    key = load_key()
    if key is None and not head_key_id:  # the very first row: the desk makes its key
        keyfile.create(key_path())
        key = load_key()
    if key is None:
        raise AuditKeyError(
            f"审计密钥缺失（{key_path()} 不存在，也没有设置 YUQING_AUDIT_KEY）："
            "审计日志已由另一把密钥签名，缺少它就不能再写入。请从备份恢复该文件，"
            "或设置 YUQING_AUDIT_KEY 为原来的密钥"
        )
    if head_key_id and key_id(key) != head_key_id:
        raise AuditKeyError(
            f"审计密钥与日志不符（当前密钥指纹 {key_id(key)}，日志由 {head_key_id} 签名）："
            f"请恢复原来的 {key_path()} 或 YUQING_AUDIT_KEY；多台服务器须使用同一把密钥"
        )
    return key


def check_key(session: Session) -> str | None:
    """Why the desk could not write audit rows now (a Chinese message), or None."""
    head = session.get(AuditHead, 1)
    try:
        if head is not None and head.key_id:
            _signing_key(head.key_id)
        else:
            load_key()
    except AuditKeyError as error:
        return str(error)
    return None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)


def _digest(key: bytes, prev_hash: str, seq: int, fields: Mapping[str, Any]) -> str:
    payload = _json({"prev": prev_hash, "seq": seq, **fields})
    return hmac.new(key, payload.encode("utf-8"), hashlib.sha256).hexdigest()


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
    change it describes). Text loses its control characters before it is hashed. Raises
    AuditKeyError when the key is missing or not the chain's: the change is not made."""
    head = session.execute(
        update(AuditHead)
        .where(AuditHead.id == 1)
        .values(seq=AuditHead.seq + 1)
        .returning(AuditHead.seq, AuditHead.last_hash, AuditHead.key_id)
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
    seq, prev_hash, head_key_id = int(head[0]), str(head[1]), str(head[2] or "")
    key = _signing_key(head_key_id)
    entry = AuditEntry(
        seq=seq,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=strip_controls(actor.name)[:100],
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else strip_controls(str(object_id))[:64],
        summary=strip_controls(summary),
        changes=_json(dict(changes or {})),  # JSON escapes control characters
        ip=None if actor.ip is None else strip_controls(actor.ip)[:64],
        prev_hash=prev_hash,
    )
    entry.hash = _digest(key, prev_hash, seq, _hashed_fields(entry))
    session.add(entry)
    session.execute(
        update(AuditHead).where(AuditHead.id == 1).values(last_hash=entry.hash, key_id=key_id(key))
    )
    session.flush()
    return entry


def record_create(
    session: Session,
    row: Any,
    *,
    actor: Actor,
    object_type: str,
    summary: str,
    values: Callable[[Any], Mapping[str, Any]],
) -> None:
    """Add a new row, flush it (so it has its id) and append its "create" audit row, whose
    changes are the audited ``values(row)`` read after the flush."""
    session.add(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="create",
        object_type=object_type,
        object_id=row.id,
        summary=summary,
        changes=diff({}, values(row)),
    )


def record_delete(
    session: Session,
    row: Any,
    *,
    actor: Actor,
    object_type: str,
    summary: str,
    values: Mapping[str, Any],
) -> None:
    """Delete a row, flush and append its "delete" audit row; ``values`` are the audited
    fields the caller read before, which the row keeps only in the audit trail."""
    session.delete(row)
    session.flush()
    record(
        session,
        actor=actor,
        action="delete",
        object_type=object_type,
        object_id=row.id,
        summary=summary,
        changes=diff(values, {}),
    )


def record_update(
    session: Session,
    row: Any,
    *,
    actor: Actor,
    object_type: str,
    summary: str,
    changes: Mapping[str, Any],
) -> None:
    """Count a change to a versioned row (its version goes up, ``updated_at`` is now, so the
    caches keyed on the version see it), flush it and append its "update" audit row in the
    caller's transaction."""
    row.version = (row.version or 0) + 1
    row.updated_at = utcnow()
    session.flush()
    record(
        session,
        actor=actor,
        action="update",
        object_type=object_type,
        object_id=row.id,
        summary=summary,
        changes=changes,
    )


@dataclass
class VerifyReport:
    """The result of checking the chain: the rows read, the last row reached and what is
    wrong (Chinese, one line each)."""

    rows: int = 0
    last_seq: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    anchors_checked: int = 0

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


def _ranges(numbers: list[int]) -> Iterator[tuple[int, int]]:
    """Consecutive runs in sorted ``numbers`` as ``(first, last)``."""
    start = previous = None
    for n in numbers:
        if previous is not None and n == previous + 1:
            previous = n
            continue
        if start is not None and previous is not None:
            yield start, previous
        start = previous = n
    if start is not None and previous is not None:
        yield start, previous


def _mismatches(seqs: list[int]) -> list[str]:
    # A changed key fails every row; runs keep that to one line instead of thousands.
    return [
        f"第 {a} 条记录的内容与哈希不符（被改动）"
        if a == b
        else f"第 {a} 条至第 {b} 条记录的内容与哈希不符（被改动，或审计密钥已更换）"
        for a, b in _ranges(seqs)
    ]


def verify(session: Session, *, anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """Recompute the chain with the audit key; every edited, removed or forged row is named,
    and each anchor must be a row of the chain with its hash unchanged."""
    report = VerifyReport()
    try:
        key = load_key()
    except AuditKeyError as error:
        report.problems.append(str(error))
        return report
    head = session.get(AuditHead, 1)
    if key is None:
        if head is not None or session.execute(select(AuditEntry.seq).limit(1)).first():
            report.problems.append(
                f"审计密钥缺失（{key_path()} 不存在，也没有设置 YUQING_AUDIT_KEY）：无法校验"
            )
        return report  # an empty log needs no key yet
    if head is not None and head.key_id and head.key_id != key_id(key):
        report.problems.append(
            f"当前审计密钥（指纹 {key_id(key)}）不是签名日志的密钥（{head.key_id}）：请用原密钥校验"
        )
    wanted = {anchor.seq for anchor in anchors}
    reached: dict[int, str] = {}
    mismatched: list[int] = []
    prev_hash, expected_seq = GENESIS, 1
    for entry in _entries(session):
        report.rows += 1
        if entry.seq != expected_seq:
            report.problems.append(f"第 {expected_seq} 条至第 {entry.seq - 1} 条记录缺失（被删除）")
        if entry.prev_hash != prev_hash:
            report.problems.append(f"第 {entry.seq} 条记录的前序哈希不符（前一条被改动或删除）")
        if not hmac.compare_digest(
            _digest(key, entry.prev_hash, entry.seq, _hashed_fields(entry)), entry.hash
        ):
            mismatched.append(entry.seq)
        if entry.seq in wanted:
            reached[entry.seq] = entry.hash
        prev_hash, expected_seq = entry.hash, entry.seq + 1
    report.problems.extend(_mismatches(mismatched))
    report.last_seq, report.last_hash = expected_seq - 1, prev_hash
    head = session.get(AuditHead, 1)
    if head is None and report.rows:
        report.problems.append("链头（audit_head）缺失：日志被截断或链头被删除")
    if head is not None and (head.seq != expected_seq - 1 or head.last_hash != prev_hash):
        report.problems.append(
            f"链尾不符：记录到第 {expected_seq - 1} 条，链头记为第 {head.seq} 条（末尾记录被删除）"
        )
    for anchor in anchors:
        report.problems.extend(_anchor_problems(anchor, key, reached, report.last_seq))
        report.anchors_checked += 1
    return report


# --- anchors: the head, signed, kept outside the desk ---------------------------------

ANCHOR_TAG = "yuqing-audit-anchor v1"
_ANCHOR = re.compile(
    r"yuqing-audit-anchor v1 seq=(\d{1,18}) hash=([0-9a-f]{64}) "
    r"at=(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ) mac=([0-9a-f]{64})"
)


class AnchorError(ValueError):
    """A text with no readable anchor in it; the message is Chinese."""


@dataclass(frozen=True)
class Anchor:
    """The chain's head at one moment: its row, that row's hash, when, and an HMAC over
    those with the audit key. Kept outside the desk (printed, mailed, in another system),
    it shows later that the chain still reaches that row unchanged."""

    seq: int
    hash: str
    at: str  # UTC, ISO 8601 with Z
    mac: str = ""

    def signed_text(self) -> str:
        return f"{ANCHOR_TAG} seq={self.seq} hash={self.hash} at={self.at}"

    def __str__(self) -> str:
        return f"{self.signed_text()} mac={self.mac}"


def _anchor_mac(key: bytes, anchor: Anchor) -> str:
    message = ("anchor|" + anchor.signed_text()).encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def make_anchor(session: Session) -> Anchor:
    """A signed anchor of the last row of a chain that verifies; raises AuditKeyError without
    the key, and AnchorError when the chain is empty or does not verify (an anchor must
    never vouch for a broken chain)."""
    report = verify(session)
    if not report.ok:
        raise AnchorError("审计日志校验未通过，不能生成锚点：" + "；".join(report.problems[:5]))
    if report.rows == 0:
        raise AnchorError("审计日志还没有记录，无需锚定")
    key = load_key()
    if key is None:  # verify has said so already; kept for the type checker
        raise AuditKeyError("审计密钥缺失")
    at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    anchor = Anchor(seq=report.last_seq, hash=report.last_hash, at=at)
    return Anchor(anchor.seq, anchor.hash, anchor.at, _anchor_mac(key, anchor))


def parse_anchors(text: str) -> list[Anchor]:
    """Every anchor line in ``text`` (an operator may keep one per day in a file)."""
    found = [
        Anchor(int(m.group(1)), m.group(2), m.group(3), m.group(4)) for m in _ANCHOR.finditer(text)
    ]
    if not found:
        raise AnchorError(
            f"没有找到锚点：应为 `yuqing audit anchor` 打印的一行（以 {ANCHOR_TAG} 开头）"
        )
    return found


def _anchor_problems(
    anchor: Anchor, key: bytes, reached: Mapping[int, str], last_seq: int
) -> list[str]:
    name = f"锚点（第 {anchor.seq} 条，{anchor.at}）"
    if not hmac.compare_digest(_anchor_mac(key, anchor), anchor.mac):
        return [f"{name}签名不符：锚点被改动，或不是用本台的审计密钥签发的"]
    if anchor.seq not in reached:
        if anchor.seq > last_seq:
            return [f"{name}不在链中：日志只到第 {last_seq} 条，此后的记录被删除（链被截断）"]
        return [f"{name}所在的记录缺失（被删除）"]
    if not hmac.compare_digest(reached[anchor.seq], anchor.hash):
        return [f"{name}的哈希与链中记录不符：该条或其之前的记录被改写"]
    return []


APPEND_ONLY_SQLITE = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry "
    "BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "BEGIN SELECT RAISE(ABORT, 'the audit head cannot be removed'); END",
)
# Row triggers do not fire on TRUNCATE, so PostgreSQL gets statement triggers for it too.
APPEND_ONLY_POSTGRES = (
    "CREATE FUNCTION audit_entry_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP; END $$",
    "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
    "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
    "FOR EACH ROW EXECUTE FUNCTION audit_entry_append_only()",
    "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_append_only()",
)
