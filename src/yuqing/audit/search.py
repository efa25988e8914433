"""Reading the audit log: filters, pages, counts and exports (csv, xlsx).

The log and its chain are ``yuqing.core.audit``; this is the part people read, used by the
audit pages and the account page's history.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from yuqing.core import audit
from yuqing.core.audit import AuditEntry
from yuqing.core.counting import Count, capped_count
from yuqing.core.timeutil import format_local
from yuqing.core.xlsx import neutralise


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


def list_entries(
    session: Session, *, filters: AuditFilters, limit: int = 50, offset: int = 0
) -> list[AuditEntry]:
    """Rows that pass ``filters``, newest first."""
    statement = _where(select(AuditEntry), filters).order_by(AuditEntry.seq.desc())
    return list(session.execute(statement.limit(limit).offset(offset)).scalars())


def count_entries(session: Session, *, filters: AuditFilters) -> Count:
    """Rows that pass ``filters``, counted up to ``counting.COUNT_CAP``."""
    return capped_count(session, _where(select(AuditEntry), filters))


def list_object_types(session: Session) -> list[str]:
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


def export_rows(session: Session, *, filters: AuditFilters) -> list[list[object]]:
    """The rows of an export (header first), newest first, every text cell neutralised."""
    rows: list[list[object]] = [list(EXPORT_HEADER)]
    for entry in list_entries(session, filters=filters, limit=EXPORT_LIMIT):
        row: list[object] = [
            entry.seq,
            format_local(entry.at, "%Y-%m-%d %H:%M:%S"),
            entry.actor_name,
            entry.ip or "",
            audit.ACTIONS.get(entry.action, entry.action),
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


def _json(value: Any) -> str:
    """A changed value as the export shows it: the log's own compact JSON."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str)
