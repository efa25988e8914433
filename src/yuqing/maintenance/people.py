"""People named in the data: a pseudonymised export for sharing figures outside the
office, and erasure on request.

A pseudonym is ``P-`` and the first 16 hex digits of HMAC-SHA256(key, name): the same
author gets the same pseudonym in every export made with the same key, and without the key
nobody can test a guessed name against it. The key lives outside the database
(``YUQING_PSEUDONYM_KEY`` or ``<data dir>/pseudonym_key``, mode 600), so neither a database
copy nor a backup holds it.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from yuqing.core import audit, keyfile
from yuqing.core.audit import Actor
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import format_local
from yuqing.events.models import Event
from yuqing.maintenance.retention import delete_mentions, protected_mention
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source

KEY_FILE = "pseudonym_key"
# Fields of a pushed item's raw payload that name a platform account.
USER_ID_FIELDS = ("user_id", "uid", "author_id", "userId", "screen_name", "author")


class PeopleError(ValueError):
    """A request about a person that cannot be carried out (Chinese message)."""


def pseudonym_key() -> bytes:
    """The export's key: the environment's, else the data folder's (made once)."""
    configured = os.environ.get("YUQING_PSEUDONYM_KEY", "").strip()
    if configured:
        return configured.encode("utf-8")
    return keyfile.read_or_create(Path(get_settings().data_dir) / KEY_FILE)


def pseudonym(value: str | None, key: bytes) -> str:
    """A stable pseudonym of a name or account id; empty for none."""
    if not value or not value.strip():
        return ""
    digest = hmac.new(key, value.strip().encode("utf-8"), hashlib.sha256).hexdigest()
    return f"P-{digest[:16]}"


def _user_id(raw: str | None) -> str:
    """The platform account id in a raw payload, if it names one."""
    if not raw:
        return ""
    try:
        payload = json.loads(raw)
    except ValueError:
        return ""
    if not isinstance(payload, dict):
        return ""
    for name in USER_ID_FIELDS[:-1]:
        value = payload.get(name)
        if value not in (None, ""):
            return str(value)
    user = payload.get("user")
    if isinstance(user, dict) and user.get("id") not in (None, ""):
        return str(user["id"])
    return ""


MENTION_COLUMNS = [
    "编号",
    "发布时间",
    "平台",
    "信息源",
    "作者（化名）",
    "平台账号（化名）",
    "标题",
    "正文",
    "情感",
    "风险分",
    "转发",
    "评论",
    "点赞",
    "地域",
]
EVENT_COLUMNS = [
    "编号",
    "标题",
    "首发时间",
    "最近时间",
    "信息数",
    "正面",
    "中性",
    "负面",
    "来源数",
    "热度",
    "首发作者（化名）",
]


def _csv(rows: Iterator[list[object]], header: list[str]) -> str:
    out = io.StringIO()
    out.write("\ufeff")  # Excel opens UTF-8 CSV with a BOM
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


def export_mentions(
    session: Session, *, start: datetime, end: datetime, actor: Actor, limit: int = 100_000
) -> str:
    """Mentions published in [start, end) as CSV, authors and account ids pseudonymised
    (no URL and no raw payload: both can name the account). Audited."""
    key = pseudonym_key()
    statement = (
        select(Mention, Source.name)
        .join(Source, Source.id == Mention.source_id)
        .where(Mention.published_at >= start, Mention.published_at < end)
        .where(Mention.status == "new")
        .order_by(Mention.published_at, Mention.id)
        .limit(limit)
    )
    rows: list[list[object]] = []
    for mention, source_name in session.execute(statement):
        rows.append(
            [
                mention.id,
                format_local(mention.published_at),
                mention.platform or "",
                source_name,
                pseudonym(mention.author, key),
                pseudonym(_user_id(mention.raw), key),
                mention.title,
                mention.text,
                mention.sentiment or "",
                "" if mention.risk_score is None else mention.risk_score,
                "" if mention.reposts is None else mention.reposts,
                "" if mention.comments is None else mention.comments,
                "" if mention.likes is None else mention.likes,
                mention.regions or "",
            ]
        )
    _audit_export(session, actor=actor, kind="mentions", count=len(rows), start=start, end=end)
    return _csv(iter(rows), MENTION_COLUMNS)


def export_events(session: Session, *, start: datetime, end: datetime, actor: Actor) -> str:
    """Events seen in [start, end) as CSV; the first author pseudonymised. Audited."""
    key = pseudonym_key()
    statement = (
        select(Event, Mention.author)
        .outerjoin(Mention, Mention.id == Event.first_mention_id)
        .where(Event.last_seen_at >= start, Event.first_seen_at < end)
        .where(Event.merged_into_id.is_(None))
        .order_by(Event.first_seen_at, Event.id)
    )
    rows: list[list[object]] = [
        [
            event.id,
            event.title,
            format_local(event.first_seen_at),
            format_local(event.last_seen_at),
            event.size,
            event.count_positive,
            event.count_neutral,
            event.count_negative,
            event.source_count,
            round(event.heat, 1),
            pseudonym(author, key),
        ]
        for event, author in session.execute(statement)
    ]
    _audit_export(session, actor=actor, kind="events", count=len(rows), start=start, end=end)
    return _csv(iter(rows), EVENT_COLUMNS)


def _audit_export(
    session: Session, *, actor: Actor, kind: str, count: int, start: datetime, end: datetime
) -> None:
    audit.record(
        session,
        actor=actor,
        action="export",
        object_type="pseudonymised_export",
        object_id=kind,
        summary=f"导出化名数据：{'信息' if kind == 'mentions' else '事件'} {count} 条"
        f"（{format_local(start)} 至 {format_local(end)}）",
        changes={"kind": kind, "count": count},
    )


# --- erasure on request ----------------------------------------------------------------


@dataclass(frozen=True)
class Found:
    """What the desk holds about one name: mentions it wrote, and how many of them a case
    record keeps."""

    name: str
    mentions: int
    kept_by_cases: int


def _authored(name: str) -> object:
    clean = name.strip()
    return or_(Mention.author == clean, func.lower(Mention.author) == clean.lower())


def _check_name(name: str) -> str:
    clean = name.strip()
    if len(clean) < 2:
        raise PeopleError("请输入要查找的作者名或平台账号名（至少 2 个字符）")
    if len(clean) > 300:
        raise PeopleError("名字过长（最多 300 个字符）")
    return clean


def find_person(session: Session, *, name: str) -> Found:
    """How many mentions ``name`` authored (exact name, case-insensitive), and how many of
    them a case keeps."""
    clean = _check_name(name)
    total = session.execute(
        select(func.count()).select_from(Mention).where(_authored(clean))  # type: ignore[arg-type]
    ).scalar_one()
    kept = session.execute(
        select(func.count()).select_from(Mention).where(_authored(clean), protected_mention())  # type: ignore[arg-type]
    ).scalar_one()
    return Found(clean, int(total), int(kept))


def erase_person(session: Session, *, name: str, actor: Actor, batch: int = 500) -> Found:
    """Delete every mention ``name`` authored, except those a case record keeps: of those
    the raw payload goes and the author stays (the case must show what it handled). The
    audit row names the person by pseudonym only. In the caller's transaction."""
    clean = _check_name(name)
    found = find_person(session, name=clean)
    while True:
        ids = list(
            session.execute(
                select(Mention.id)
                .where(_authored(clean), ~protected_mention())  # type: ignore[arg-type]
                .order_by(Mention.id)
                .limit(batch)
            ).scalars()
        )
        if not ids:
            break
        delete_mentions(session, ids=ids)
    for mention in session.execute(
        select(Mention).where(_authored(clean), protected_mention())  # type: ignore[arg-type]
    ).scalars():
        mention.raw = None
    audit.record(
        session,
        actor=actor,
        action="delete",
        object_type="person_erasure",
        object_id=pseudonym(clean, pseudonym_key()),
        summary=(
            f"按申请删除个人信息：删除其发布的信息 {found.mentions - found.kept_by_cases} 条，"
            f"{found.kept_by_cases} 条因处置记录须保留（已去掉原始数据）"
        ),
        changes={"deleted": found.mentions - found.kept_by_cases, "kept": found.kept_by_cases},
    )
    session.flush()
    return found
