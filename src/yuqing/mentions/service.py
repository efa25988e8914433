"""Reading mentions: one mention, the stream's listed mentions and its orders, exact copies.

Storing collected items is ``mentions/store.py`` (through the pipeline, ``worker/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar, cast

from sqlalchemy import Select, delete, func, select, text
from sqlalchemy.orm import Session

from yuqing.core.counting import Count, capped_count
from yuqing.mentions import search
from yuqing.mentions.models import Mention, MentionMark
from yuqing.sources.models import Source


def get(session: Session, *, mention_id: int) -> Mention | None:
    return session.get(Mention, mention_id)


def get_many(session: Session, *, mention_ids: Sequence[int]) -> list[Mention]:
    """Mentions by id, in the order of ``mention_ids`` (missing ids are skipped)."""
    if not mention_ids:
        return []
    found = session.execute(select(Mention).where(Mention.id.in_(list(mention_ids)))).scalars()
    by_id = {m.id: m for m in found}
    return [by_id[i] for i in mention_ids if i in by_id]


SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])
STREAM_ORDERS = ("time", "risk", "heat")
"""Orders of the stream: newest first, highest risk first, most spread (热度) first."""
MARK_FILTERS = ("unread", "important")


def list_listed(
    session: Session,
    *,
    source_id: int | None = None,
    source_kind: str | None = None,
    limit: int = 20,
    offset: int = 0,
    near_members: bool = False,
    analysis: search.SearchFilters | None = None,
    platform: str | None = None,
    order: str = "time",
    user_id: int | None = None,
    mark: str | None = None,
) -> tuple[list[Mention], Count]:
    """One page of listed mentions (not duplicates) in ``order`` and how many there are;
    members of a near-duplicate group are left out (their representative counts them)
    unless ``near_members``. ``analysis`` narrows by time, sentiment, province, risk and
    scheme; ``mark`` (``unread`` or ``important``) by the marks of account ``user_id``.

    The count stops at ``counting.COUNT_CAP`` (a page shows "10,000+"): a count of every
    row of a large range would cost more than the page itself.
    """
    query = listed_select(
        select(Mention),
        source_id=source_id,
        source_kind=source_kind,
        near_members=near_members,
        analysis=analysis,
        platform=platform,
        user_id=user_id,
        mark=mark,
    )
    total = capped_count(session, query)
    ordered = query.order_by(*stream_order(session, order))
    rows = session.execute(ordered.limit(limit).offset(offset))
    return list(rows.scalars()), total


def listed_select(
    query: SelectT,
    *,
    source_id: int | None = None,
    source_kind: str | None = None,
    near_members: bool = False,
    analysis: search.SearchFilters | None = None,
    platform: str | None = None,
    user_id: int | None = None,
    mark: str | None = None,
) -> SelectT:
    """``query`` (a select from ``mention``) narrowed to the listed mentions the stream's
    filters name: the one definition of what the stream lists, which its analysis pages
    (analysis/insights.py) aggregate."""
    query = query.where(Mention.status == "new")
    if analysis is not None:
        query = query.where(*search.analysis_where(analysis))
        if analysis.start is not None:
            query = query.where(Mention.published_at >= analysis.start)
        if analysis.end is not None:
            query = query.where(Mention.published_at < analysis.end)
    if not near_members:
        query = query.where(Mention.near_group_id.is_(None))
    if source_id:
        query = query.where(Mention.source_id == source_id)
    if source_kind:
        query = query.join(Source, Source.id == Mention.source_id).where(Source.kind == source_kind)
    if platform:
        query = query.where(Mention.platform == platform)
    return cast(SelectT, _with_mark(query, user_id, mark))


def _with_mark(query: Any, user_id: int | None, mark: str | None) -> Any:
    if user_id is None or mark not in MARK_FILTERS:
        return query
    marked = select(MentionMark.mention_id).where(MentionMark.user_id == user_id)
    if mark == "important":
        return query.where(Mention.id.in_(marked.where(MentionMark.important.is_(True))))
    return query.where(Mention.id.not_in(marked.where(MentionMark.read_at.is_not(None))))


def stream_order(session: Session, order: str) -> list[Any]:
    """ORDER BY of a stream order, each served by an index ix_mention_stream_* (status,
    near_group_id, key, published_at)."""
    newest = [Mention.published_at.desc(), Mention.id.desc()]
    if order == "risk":
        risk = Mention.risk_score.desc()
        # PostgreSQL sorts NULL first in a descending order; SQLite already puts it last.
        if session.get_bind().dialect.name == "postgresql":
            risk = risk.nulls_last()
        return [risk, *newest]
    if order == "heat":
        return [Mention.heat.desc(), *newest]
    return newest


def list_duplicates(session: Session, *, mention: Mention, limit: int = 200) -> list[Mention]:
    """The exact copies linked to ``mention``, newest first."""
    return list(
        session.execute(
            select(Mention)
            .where(Mention.duplicate_of_id == mention.id)
            .order_by(Mention.published_at.desc(), Mention.id.desc())
            .limit(limit)
        ).scalars()
    )


def count_listed(session: Session) -> int:
    return session.execute(
        select(func.count()).select_from(Mention).where(Mention.status == "new")
    ).scalar_one()


# --- counts and samples for the alert rules (they run per rule every minute) ---------------
# Plain SQL, as the rules had it, so the counts stay one indexed scan each. The imports are
# local while this module is being split into rooms.


def count_sentiment(session: Session, *, since: datetime, until: datetime) -> tuple[int, int]:
    """Listed mentions published in [since, until]: (all, negative)."""

    total, negative = session.execute(
        text(
            "SELECT count(*), sum(CASE WHEN m.sentiment = 'negative' THEN 1 ELSE 0 END)"
            " FROM mention m WHERE m.status = 'new'"
            " AND m.published_at >= :since AND m.published_at <= :now"
        ),
        {"since": since, "now": until},
    ).one()
    return int(total or 0), int(negative or 0)


def count_window(
    session: Session, *, base: datetime, start: datetime, until: datetime
) -> tuple[int, int]:
    """Listed mentions published in [start, until] and in [base, start): (current, before)."""

    current, total = session.execute(
        text(
            "SELECT sum(CASE WHEN m.published_at >= :start THEN 1 ELSE 0 END), count(*)"
            " FROM mention m WHERE m.status = 'new'"
            " AND m.published_at >= :base AND m.published_at <= :now"
        ),
        {"start": start, "base": base, "now": until},
    ).one()
    return int(current or 0), int(total or 0) - int(current or 0)


@dataclass(frozen=True)
class RiskySample:
    """A recent mention as an alert shows it (``list_riskiest``)."""

    id: int
    title: str | None
    text: str | None
    url: str | None
    published_at: datetime | None
    risk_score: int | None
    sentiment: str | None
    source_name: str | None


def list_riskiest(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    scheme_id: int | None = None,
    event_id: int | None = None,
    negative: bool = False,
    limit: int = 200,
) -> list[RiskySample]:
    """The riskiest listed mentions published in [since, until], newest first among
    equals, optionally only a scheme's hits or an event's members (their link tables are
    joined by name: the rows read are mentions)."""

    join = ""
    if scheme_id is not None:
        join += " JOIN scheme_match sm ON sm.mention_id = m.id AND sm.scheme_id = :scheme"
    if event_id is not None:
        join += " JOIN event_member em ON em.mention_id = m.id AND em.event_id = :event"
    where = "m.status = 'new' AND m.published_at >= :since AND m.published_at <= :now"
    if negative:
        where += " AND m.sentiment = 'negative'"
    rows = session.execute(
        text(
            "SELECT m.id, m.title, m.text, m.url, m.published_at, m.risk_score, m.sentiment,"
            f" s.name FROM mention m{join} LEFT JOIN source s ON s.id = m.source_id"
            f" WHERE {where} ORDER BY m.risk_score DESC, m.id DESC LIMIT {int(limit)}"
        ),
        {"since": since, "now": until, "scheme": scheme_id, "event": event_id},
    ).all()
    return [RiskySample(r[0], r[1], r[2], r[3], _as_datetime(r[4]), r[5], r[6], r[7]) for r in rows]


def _as_datetime(value: object) -> datetime | None:
    """SQLite hands a text() column's timestamp back as a string."""
    if isinstance(value, datetime) or value is None:
        return value
    return datetime.fromisoformat(str(value))


def list_stored_url_hashes(session: Session, *, source_id: int, url_hashes: list[int]) -> set[int]:
    """Which of ``url_hashes`` (URL keys, ``core.urls.url_hash``) ``source_id`` has stored."""
    if not url_hashes:
        return set()
    query = select(Mention.url_hash).where(
        Mention.source_id == source_id, Mention.url_hash.in_(url_hashes)
    )
    return {h for h in session.execute(query).scalars() if h is not None}


def delete_for_source(session: Session, *, source_id: int) -> int:
    """Delete every mention of a source (before the source itself goes); returns how many."""
    ids = list(session.execute(select(Mention.id).where(Mention.source_id == source_id)).scalars())
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        session.execute(
            text("DELETE FROM mention_fts WHERE rowid = :id"), [{"id": i} for i in chunk]
        )
    session.execute(delete(Mention).where(Mention.source_id == source_id))
    return len(ids)
