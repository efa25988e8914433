"""An account's marks on mentions (已读/重要): reads and writes of the ``mention_mark`` table.

Marks belong to the account that set them and sit on the item, never on its author. Ids
that name no mention are skipped, so a stale page cannot fail a batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from yuqing.core.timeutil import utcnow
from yuqing.mentions.models import Mention, MentionMark

MAX_BATCH = 1000
"""Mentions one batch action may name (a page shows 20; a select-all of pages stays small)."""


def _existing_ids(session: Session, mention_ids: Sequence[int]) -> list[int]:
    wanted = list(dict.fromkeys(mention_ids))[:MAX_BATCH]
    if not wanted:
        return []
    found = set(session.scalars(select(Mention.id).where(Mention.id.in_(wanted))))
    return [i for i in wanted if i in found]


def _ensure_rows(session: Session, user_id: int, mention_ids: list[int]) -> None:
    """A mark row for each mention (created unmarked where missing; a concurrent request
    creating the same row is no error)."""
    rows = [{"user_id": user_id, "mention_id": i, "important": False} for i in mention_ids]
    dialect = session.get_bind().dialect.name
    module: Any = postgresql if dialect == "postgresql" else sqlite
    session.execute(module.insert(MentionMark).on_conflict_do_nothing(), rows)


def mark_read(session: Session, *, user_id: int, mention_ids: Sequence[int]) -> int:
    """Mark mentions read for one account (kept as first read); returns how many exist."""
    ids = _existing_ids(session, mention_ids)
    if not ids:
        return 0
    _ensure_rows(session, user_id, ids)
    session.execute(
        update(MentionMark)
        .where(
            MentionMark.user_id == user_id,
            MentionMark.mention_id.in_(ids),
            MentionMark.read_at.is_(None),
        )
        .values(read_at=utcnow())
    )
    return len(ids)


def set_important(
    session: Session, *, user_id: int, mention_ids: Sequence[int], important: bool
) -> int:
    """Mark mentions 重要 (or not) for one account; returns how many exist."""
    ids = _existing_ids(session, mention_ids)
    if not ids:
        return 0
    _ensure_rows(session, user_id, ids)
    session.execute(
        update(MentionMark)
        .where(MentionMark.user_id == user_id, MentionMark.mention_id.in_(ids))
        .values(important=important, important_at=utcnow() if important else None)
    )
    return len(ids)


def toggle_important(session: Session, *, user_id: int, mention_id: int) -> bool | None:
    """Flip one mention's 重要 mark for one account: the new state, None if no such mention."""
    current = get(session, user_id=user_id, mention_id=mention_id)
    important = not (current is not None and current.important)
    if not set_important(session, user_id=user_id, mention_ids=[mention_id], important=important):
        return None
    return important


def get(session: Session, *, user_id: int, mention_id: int) -> MentionMark | None:
    return session.get(MentionMark, (user_id, mention_id))


def marks_for(
    session: Session, *, user_id: int, mention_ids: Sequence[int]
) -> dict[int, MentionMark]:
    """The account's marks on these mentions, by mention id (unmarked ones are absent)."""
    if not mention_ids:
        return {}
    found = session.scalars(
        select(MentionMark).where(
            MentionMark.user_id == user_id, MentionMark.mention_id.in_(list(mention_ids))
        )
    )
    return {m.mention_id: m for m in found}
