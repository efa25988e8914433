"""The in-memory text index of recent events (events/cluster.py's ``TextIndex``), one per
database and process.

A process cache the pipeline's events stage may rely on because it rebuilds itself from the
``event`` table: it is topped up with events other processes created, and rebuilt after a
rollback or when the table was emptied, so a queue worker starting cold loads it from the
database and places a batch as any other process would.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from yuqing.events.cluster import WINDOW, TextIndex
from yuqing.events.models import Event
from yuqing.events.sql import stamp

_TOUCHED = "yuqing.events.index_touched"


_INDEXES: dict[int, TextIndex] = {}
_STALE: set[int] = set()


def _key(session: Session) -> int:
    bind = session.get_bind()
    engine = bind.engine if not isinstance(bind, Engine) else bind
    return id(engine)


@event.listens_for(Session, "after_rollback")
def _on_rollback(session: Session) -> None:
    """Events added by a transaction that rolled back must not stay in memory."""
    touched = session.info.pop(_TOUCHED, None)
    if touched is not None:
        _STALE.add(touched)


@event.listens_for(Session, "after_commit")
def _on_commit(session: Session) -> None:
    session.info.pop(_TOUCHED, None)


def text_index(session: Session) -> TextIndex:
    """The text index of this database, brought up to date with the event table: rebuilt
    after a rollback or when the table was emptied, topped up with events other processes
    created."""
    key = _key(session)
    index = _INDEXES.get(key)
    if session.autoflush:
        session.flush()
    # on the driver's connection: once per batch, the ORM's execute costs more than it
    top = session.connection().exec_driver_sql("SELECT MAX(id) FROM event").scalar() or 0
    if index is None or key in _STALE or top < index.max_event_id:
        _STALE.discard(key)
        index = _INDEXES[key] = _load(session, after=0)
    elif top > index.max_event_id:
        _load(session, after=index.max_event_id, into=index)
    session.info[_TOUCHED] = key
    return index


def forget(session: Session, event_ids: Iterable[int]) -> None:
    """Drop events (merged away) from this database's index."""
    index = _INDEXES.get(_key(session))
    if index is not None:
        for event_id in event_ids:
            index.forget(event_id)


def reload(session: Session, events: Iterable[Event]) -> None:
    """Take changed profiles (a merge) into this database's index."""
    index = _INDEXES.get(_key(session))
    if index is None:
        return
    for item in events:
        index.forget(item.id)
        if item.vector and item.merged_into_id is None:
            index.load(item.id, item.vector, item.last_seen_at)


def _load(session: Session, *, after: int, into: TextIndex | None = None) -> TextIndex:
    """Recent events' profiles (the driver's connection: a process loading its index
    cold paid 0.2–0.7 ms for the ORM's first run of such a statement on a new engine)."""
    index = into or TextIndex()
    connection = session.connection()
    latest = connection.exec_driver_sql("SELECT MAX(last_seen_at) FROM event").scalar()
    if latest is None:
        return index
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    query = (
        "SELECT id, vector, last_seen_at FROM event WHERE id > ? AND "
        "merged_into_id IS NULL AND last_seen_at >= ? ORDER BY id"
    )
    if connection.dialect.name != "sqlite":
        query = query.replace("?", "%s")
    since = stamp(session)(latest - WINDOW)
    for event_id, vector, last_seen in connection.exec_driver_sql(query, (after, since)):
        if isinstance(last_seen, str):
            last_seen = datetime.fromisoformat(last_seen)
        if vector:
            index.load(event_id, bytes(vector), last_seen)
        index.max_event_id = max(index.max_event_id, event_id)
    return index
