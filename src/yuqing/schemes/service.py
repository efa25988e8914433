"""Schemes as plain functions over a session: edit, compile into the matcher, record matches."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from typing import cast

from sqlalchemy import Table, delete, select, text
from sqlalchemy.orm import Session

from yuqing.core import audit, freshness
from yuqing.core.audit import Actor, AuditEntry
from yuqing.core.counting import Count, capped_count
from yuqing.core.database import insert_many
from yuqing.core.timeutil import local_zone, to_utc_naive, utcnow
from yuqing.mentions.models import Mention
from yuqing.schemes.matcher import Matcher, SchemeHit, SchemeSpec
from yuqing.schemes.models import Scheme, SchemeGroup, SchemeMatch
from yuqing.schemes.query import (
    REFUSED_FIELDS,
    Node,
    parse_query,
    refused_fields,
    simple_tree,
    split_words,
)
from yuqing.schemes.schemas import WORD_FIELDS, SchemeIn, SchemeOut

log = logging.getLogger(__name__)
_DELETE_CHUNK = 500


# --- editing --------------------------------------------------------------------------


def get(session: Session, *, scheme_id: int) -> Scheme | None:
    return session.get(Scheme, scheme_id)


def list_all(session: Session) -> list[Scheme]:
    return list(session.scalars(select(Scheme).order_by(Scheme.group_id, Scheme.id)))


def list_groups(session: Session) -> list[SchemeGroup]:
    return list(session.scalars(select(SchemeGroup).order_by(SchemeGroup.order, SchemeGroup.id)))


def group_named(session: Session, *, name: str | None) -> SchemeGroup | None:
    """The group called ``name``, created when new; ``None`` for no group."""
    if not name:
        return None
    group = session.scalar(select(SchemeGroup).where(SchemeGroup.name == name))
    if group is None:
        group = SchemeGroup(name=name)
        session.add(group)
        session.flush()
    return group


def _apply(session: Session, scheme: Scheme, scheme_in: SchemeIn) -> None:
    group = group_named(session, name=scheme_in.group)
    scheme.group_id = group.id if group else None
    scheme.name = scheme_in.name
    scheme.mode = scheme_in.mode
    for name in (*WORD_FIELDS, "exclude_words"):
        setattr(scheme, name, "\n".join(getattr(scheme_in, name)))
    scheme.query = scheme_in.query.strip()
    scheme.scope = scheme_in.scope
    scheme.weight = scheme_in.weight
    scheme.enabled = scheme_in.enabled
    scheme.note = ""  # what it said is about the scheme as it was; SchemeIn parsed the new one


_AUDITED = (
    "name",
    "group_id",
    "mode",
    *WORD_FIELDS,
    "exclude_words",
    "query",
    "scope",
    "weight",
    "enabled",
)


def _values(scheme: Scheme) -> dict[str, object]:
    return {name: getattr(scheme, name) for name in _AUDITED}


def create(session: Session, *, scheme_in: SchemeIn, actor: Actor = audit.SYSTEM) -> Scheme:
    """Add a scheme; the caller commits. The matcher picks it up on its next batch."""
    now = utcnow()
    scheme = Scheme(version=1, created_at=now, updated_at=now)
    _apply(session, scheme, scheme_in)
    audit.record_create(
        session,
        scheme,
        actor=actor,
        object_type="scheme",
        summary=f"新建监测方案 {scheme.name}",
        values=_values,
    )
    return scheme


def update(
    session: Session, *, scheme: Scheme, scheme_in: SchemeIn, actor: Actor = audit.SYSTEM
) -> Scheme:
    before = _values(scheme)
    _apply(session, scheme, scheme_in)
    audit.record_update(
        session,
        scheme,
        actor=actor,
        object_type="scheme",
        summary=f"修改监测方案 {scheme.name}",
        changes=audit.diff(before, _values(scheme)),
    )
    return scheme


def set_enabled(
    session: Session, *, scheme: Scheme, enabled: bool, actor: Actor = audit.SYSTEM
) -> Scheme:
    """Switch a scheme on or off; switching on a scheme whose stored query no longer parses
    (one disabled for ``author:``) raises ``SchemeSyntaxError``: it must be edited first."""
    if enabled and not scheme.enabled:
        tree_of(scheme)
    if scheme.enabled != enabled:
        scheme.enabled = enabled
        audit.record_update(
            session,
            scheme,
            actor=actor,
            object_type="scheme",
            summary=f"{'启用' if enabled else '停用'}监测方案 {scheme.name}",
            changes={"enabled": [not enabled, enabled]},
        )
    return scheme


def remove(session: Session, *, scheme: Scheme, actor: Actor = audit.SYSTEM) -> None:
    """Delete a scheme and its matches (the mentions stay)."""
    values = _values(scheme)
    session.execute(delete(SchemeMatch).where(SchemeMatch.scheme_id == scheme.id))
    audit.record_delete(
        session,
        scheme,
        actor=actor,
        object_type="scheme",
        summary=f"删除监测方案 {values['name']}",
        values=values,
    )


# --- schemes the query language no longer accepts ---------------------------------------


def _refused_note(fields: list[str]) -> str:
    reasons = "".join(REFUSED_FIELDS[f] for f in fields)
    return f"此方案已在升级时自动停用：{reasons}请在编辑页删去这些条件并保存，再重新启用。"


def retire_refused(session: Session, *, actor: Actor = audit.SYSTEM) -> list[Scheme]:
    """Disable every advanced scheme whose query uses a refused field (``author:``) and
    put a note on it saying why; run on upgrade and start. Schemes that already carry the
    note are left alone, so running it again changes nothing. The caller commits."""
    retired = []
    for scheme in session.scalars(select(Scheme).where(Scheme.mode == "advanced")):
        fields = refused_fields(scheme.query or "")
        if not fields or scheme.note:
            continue
        was_enabled = scheme.enabled
        scheme.enabled = False
        scheme.note = _refused_note(fields)
        audit.record_update(
            session,
            scheme,
            actor=actor,
            object_type="scheme",
            summary=f"停用监测方案 {scheme.name}：检索式含 {'、'.join(f + ':' for f in fields)}",
            changes={"enabled": [was_enabled, False], "note": ["", scheme.note]},
        )
        retired.append(scheme)
    return retired


def owner_ids(session: Session, *, scheme_id: int) -> list[int]:
    """The accounts that created or edited a scheme (from the audit log), creator first."""
    rows = session.scalars(
        select(AuditEntry.actor_id)
        .where(
            AuditEntry.object_type == "scheme",
            AuditEntry.object_id == str(scheme_id),
            AuditEntry.action.in_(("create", "update")),
            AuditEntry.actor_id.is_not(None),
        )
        .order_by(AuditEntry.seq)
    )
    return list(dict.fromkeys(int(r) for r in rows if r is not None))


def words_of(scheme: Scheme, name: str) -> list[str]:
    return [w for w in (getattr(scheme, name) or "").split("\n") if w]


def to_out(session: Session, scheme: Scheme) -> SchemeOut:
    group = session.get(SchemeGroup, scheme.group_id) if scheme.group_id else None
    values = {
        "id": scheme.id,
        "name": scheme.name,
        "group": group.name if group else None,
        "mode": scheme.mode,
        "query": scheme.query,
        "scope": scheme.scope,
        "weight": scheme.weight,
        "enabled": scheme.enabled,
        "note": scheme.note or "",
        "version": scheme.version,
        "created_at": scheme.created_at,
        "updated_at": scheme.updated_at,
    }
    for name in (*WORD_FIELDS, "exclude_words"):
        values[name] = words_of(scheme, name)
    return SchemeOut(**values)


# --- compiling ------------------------------------------------------------------------


def tree_of(scheme: Scheme) -> Node | None:
    """The boolean tree of a scheme in either mode."""
    if scheme.mode == "advanced":
        return parse_query(scheme.query)
    groups = [split_words(words_of(scheme, name)) for name in WORD_FIELDS]
    return simple_tree(groups, split_words(words_of(scheme, "exclude_words")))


def spec_of(scheme: Scheme) -> SchemeSpec:
    return SchemeSpec(scheme.id, tree_of(scheme), scheme.scope, float(scheme.weight or 0))


def _load_specs(session: Session) -> list[SchemeSpec]:
    specs = []
    for scheme in session.scalars(select(Scheme).where(Scheme.enabled.is_(True))):
        try:
            specs.append(spec_of(scheme))
        except ValueError:  # a stored query that no longer parses must not stop ingestion
            log.exception("scheme %s does not compile", scheme.id)
    return specs


_signature = freshness.Signature.of_versions(Scheme)
"""The scheme table's signature, asked of the database at most once a second unless this
process changed a scheme (``core.freshness``)."""


class _MatcherCache:
    """The current matcher per database."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.current: dict[str, Matcher] = {}

    def swap(self, key: str, matcher: Matcher) -> Matcher:
        with self.lock:
            self.current[key] = matcher
        return matcher


_cache = _MatcherCache()


def current_matcher(session: Session, *, wait: bool = True) -> Matcher:
    """The matcher of every enabled scheme; cheap when nothing changed.

    After a change, the batch that first sees it compiles the new matcher (0.6 s for 50,000
    keywords) while batches in other threads keep matching with the old one until it is
    swapped in, so ingestion never stops and every item collected after the change is
    matched against it. (An earlier version compiled in the background and let batches
    use the old matcher meanwhile: items collected in that window missed a new scheme.)
    ``wait`` is kept for callers of that version and has no effect.
    """
    signature = _signature.get(session)
    key = signature[0]
    assert isinstance(key, str)
    current = _cache.current.get(key)
    if current is not None and current.generation == signature:
        return current
    return _cache.swap(key, Matcher(_load_specs(session), generation=signature))


# --- matches --------------------------------------------------------------------------


def record_matches(
    session: Session,
    pairs: list[tuple[int, list[SchemeHit]]],
    *,
    stored: Iterable[int] | None = None,
) -> int:
    """Store the scheme matches of mentions, replacing what they matched before (an
    updated mention is matched again). ``stored``: only these may have matches already
    (the ingest knows which rows are new), so only theirs are deleted. The caller commits.
    Returns rows written."""
    if not pairs:
        return 0
    given = (mention_id for mention_id, _ in pairs) if stored is None else stored
    ids = list(dict.fromkeys(given))
    for at in range(0, len(ids), _DELETE_CHUNK):
        chunk = ids[at : at + _DELETE_CHUNK]
        session.execute(delete(SchemeMatch).where(SchemeMatch.mention_id.in_(chunk)))
    now = utcnow()
    words = _words_json()
    rows = [
        (hit.scheme_id, mention_id, words(tuple(hit.words)), now)
        for mention_id, hits in dict(pairs).items()
        for hit in hits
    ]
    if rows:
        _insert_matches(session, rows)
    return len(rows)


def _words_json() -> Callable[[tuple[str, ...]], str]:
    """JSON of a matched word list, remembered per batch: the same few lists repeat."""
    return lru_cache(maxsize=None)(lambda words: json.dumps(list(words), ensure_ascii=False))


_MATCH_COLUMNS = ("scheme_id", "mention_id", "words", "matched_at")


def _insert_matches(session: Session, rows: list[tuple[int, int, str, datetime]]) -> None:
    """One executemany; on SQLite through the driver, whose per-row cost is a fraction of
    SQLAlchemy's parameter handling."""
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        insert_many(connection, cast(Table, SchemeMatch.__table__), _MATCH_COLUMNS, rows)
        return
    kind = SchemeMatch.__table__.c.matched_at.type.dialect_impl(dialect)
    to_text = kind.bind_processor(dialect)
    stamp = to_text(rows[0][3]) if to_text else rows[0][3]
    connection.exec_driver_sql(
        f"INSERT INTO scheme_match ({', '.join(_MATCH_COLUMNS)}) VALUES (?, ?, ?, ?)",
        [(scheme_id, mention_id, words, stamp) for scheme_id, mention_id, words, _ in rows],
    )


@dataclass
class MentionMatch:
    """A scheme that matched a mention, for the mention page."""

    scheme_id: int
    name: str
    words: list[str]


def matches_for_mention(session: Session, mention_id: int) -> list[MentionMatch]:
    rows = session.execute(
        select(SchemeMatch.scheme_id, Scheme.name, SchemeMatch.words)
        .join(Scheme, Scheme.id == SchemeMatch.scheme_id)
        .where(SchemeMatch.mention_id == mention_id)
        .order_by(Scheme.weight.desc(), Scheme.id)
    )
    return [MentionMatch(sid, name, _words(words)) for sid, name, words in rows]


def _words(raw: str | None) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(w) for w in value] if isinstance(value, list) else []


def today_start() -> datetime:
    """Midnight of today in the institution's zone, as stored (UTC, naive)."""
    local_today = datetime.now(local_zone()).date()
    return to_utc_naive(datetime.combine(local_today, time(), tzinfo=local_zone()))


def match_counts(session: Session) -> dict[int, tuple[Count, Count]]:
    """Per scheme: (mentions published today, all mentions) among its matches, each
    counted up to ``counting.COUNT_CAP`` (a scheme can match most of a million rows)."""
    start = today_start()
    found: dict[int, tuple[Count, Count]] = {}
    for scheme_id in session.execute(select(Scheme.id)).scalars():
        matched = select(SchemeMatch.id).where(SchemeMatch.scheme_id == scheme_id)
        today = matched.join(Mention, Mention.id == SchemeMatch.mention_id).where(
            Mention.published_at >= start
        )
        found[scheme_id] = (capped_count(session, today), capped_count(session, matched))
    return found


@dataclass
class MatchedMention:
    """One row of a scheme's mention list."""

    id: int
    title: str
    text: str
    url: str | None
    published_at: datetime | None
    source_name: str | None
    words: list[str]


def mentions_of(
    session: Session, *, scheme_id: int, offset: int = 0, limit: int = 20
) -> tuple[Count, list[MatchedMention]]:
    """The scheme's matched mentions, newest first, and how many there are in all (capped:
    ``counting.COUNT_CAP``)."""
    total = capped_count(session, select(SchemeMatch.id).where(SchemeMatch.scheme_id == scheme_id))
    rows = session.execute(
        text(
            "SELECT m.id, m.title, m.text, m.url, m.published_at, s.name, sm.words"
            " FROM scheme_match sm JOIN mention m ON m.id = sm.mention_id"
            " LEFT JOIN source s ON s.id = m.source_id"
            " WHERE sm.scheme_id = :scheme"
            " ORDER BY m.published_at DESC, m.id DESC LIMIT :limit OFFSET :offset"
        ),
        {"scheme": scheme_id, "limit": limit, "offset": offset},
    )
    items = [
        MatchedMention(r[0], r[1] or "", r[2] or "", r[3], _as_datetime(r[4]), r[5], _words(r[6]))
        for r in rows
    ]
    return total, items


def _as_datetime(value: object) -> datetime | None:
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.fromisoformat(str(value))


# --- counts for the alert rules (they run per rule every minute) ---------------------------


def list_scheme_names(session: Session, *, scheme_ids: Iterable[int]) -> dict[int, str]:
    """The names of these schemes (ids of schemes gone are left out)."""
    wanted = sorted(set(scheme_ids))
    if not wanted:
        return {}
    rows = session.execute(select(Scheme.id, Scheme.name).where(Scheme.id.in_(wanted)))
    return {int(i): str(n) for i, n in rows}


def list_match_words(session: Session, *, mention_id: int) -> list[list[str]]:
    """The words each scheme matched in one mention, one list per matching scheme."""
    rows = session.execute(select(SchemeMatch.words).where(SchemeMatch.mention_id == mention_id))
    result: list[list[str]] = []
    for (raw,) in rows:
        try:
            value = json.loads(raw or "[]")
        except ValueError:
            value = []
        result.append([str(w) for w in value] if isinstance(value, list) else [])
    return result


def get_scheme_name(session: Session, *, scheme_id: int) -> str | None:
    """A scheme's name, or ``None`` when it is gone."""
    found = session.execute(text("SELECT name FROM scheme WHERE id = :id"), {"id": scheme_id})
    return found.scalar()


def count_sentiment(
    session: Session, *, scheme_id: int, since: datetime, until: datetime
) -> tuple[int, int]:
    """Listed mentions a scheme matched, published in [since, until]: (all, negative)."""
    total, negative = session.execute(
        text(
            "SELECT count(*), sum(CASE WHEN m.sentiment = 'negative' THEN 1 ELSE 0 END)"
            " FROM mention m"
            " JOIN scheme_match sm ON sm.mention_id = m.id AND sm.scheme_id = :scheme"
            " WHERE m.status = 'new' AND m.published_at >= :since AND m.published_at <= :now"
        ),
        {"since": since, "now": until, "scheme": scheme_id},
    ).one()
    return int(total or 0), int(negative or 0)


def count_windows(
    session: Session,
    *,
    base: datetime,
    start: datetime,
    until: datetime,
    scheme_id: int | None = None,
) -> dict[int, tuple[int, int]]:
    """Per scheme (or only ``scheme_id``), its listed hits published in [start, until] and
    in [base, start): scheme id → (current, before)."""
    only = " AND sm.scheme_id = :scheme" if scheme_id is not None else ""
    rows = session.execute(
        text(
            "SELECT sm.scheme_id, sum(CASE WHEN m.published_at >= :start THEN 1 ELSE 0 END),"
            " count(*) FROM scheme_match sm JOIN mention m ON m.id = sm.mention_id"
            " WHERE m.status = 'new' AND m.published_at >= :base AND m.published_at <= :now"
            f"{only} GROUP BY sm.scheme_id"
        ),
        {"start": start, "base": base, "now": until, "scheme": scheme_id},
    )
    return {int(sid): (int(c or 0), int(t) - int(c or 0)) for sid, c, t in rows}


def list_top_words(session: Session, *, mention_ids: list[int], limit: int = 8) -> list[str]:
    """The scheme words matched most often in these mentions."""
    from collections import Counter  # appended below the imports others are moving

    if not mention_ids:
        return []
    placeholders = ", ".join(str(int(i)) for i in mention_ids)
    counts: Counter[str] = Counter()
    for (raw,) in session.execute(
        text(f"SELECT words FROM scheme_match WHERE mention_id IN ({placeholders})")
    ):
        try:
            counts.update(str(w) for w in json.loads(raw or "[]"))
        except ValueError:
            continue
    return [word for word, _ in counts.most_common(limit)]
