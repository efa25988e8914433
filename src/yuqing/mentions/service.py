"""Reading mentions: one mention, the stream's listed mentions and its orders, exact copies.

Storing collected items is ``mentions/store.py`` (through the pipeline, ``worker/pipeline.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

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
    count_cap: int | None = None,
) -> tuple[list[Mention], int]:
    """One page of listed mentions (not duplicates) in ``order`` and how many there are;
    members of a near-duplicate group are left out (their representative counts them)
    unless ``near_members``. ``analysis`` narrows by time, sentiment, province, risk and
    scheme; ``mark`` (``unread`` or ``important``) by the marks of account ``user_id``.

    With ``count_cap`` the count stops at ``count_cap + 1`` (a page shows "10,000+"): a
    count of every row of a large range would cost more than the page itself.
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
    counted = query.with_only_columns(Mention.id)
    if count_cap is not None:
        counted = counted.limit(count_cap + 1)
    total = session.execute(select(func.count()).select_from(counted.subquery())).scalar_one()
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
