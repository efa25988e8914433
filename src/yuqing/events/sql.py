"""Driver-level SQL of the events stage: many rows per statement, SQLAlchemy's per-row
parameter handling skipped (at ingest rates it costs more than the statements)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, bindparam, text
from sqlalchemy.orm import Session

from yuqing.core.database import Base, insert_many, insert_returning_ids, where_in
from yuqing.events.models import Event

EVENT_COLUMNS = (
    "title",
    "representative_id",
    "representative_is_reply",
    "first_mention_id",
    "first_seen_at",
    "last_seen_at",
    "size",
    "count_positive",
    "count_neutral",
    "count_negative",
    "source_count",
    "heat",
    "terms",
    "duplicate_count",
    "vector",
    "created_at",
    "updated_at",
)


def _driver_value(value: Any) -> Any:
    # The text SQLAlchemy's SQLite DateTime stores, so stored and compared times agree.
    if value.__class__ is datetime:
        return value.isoformat(" ", "microseconds")
    return value


def _same(value: Any) -> Any:
    return value


def _sqlite_time(value: datetime) -> str:
    return value.isoformat(" ", "microseconds")


def stamp(session: Session) -> Callable[[datetime], Any]:
    """How a time is passed to this database's driver (see ``_driver_value``)."""
    return _sqlite_time if session.get_bind().dialect.name == "sqlite" else _same


_PLAIN_INSERT = re.compile(
    r"INSERT INTO (?P<table>\w+) \((?P<columns>[\w, ]+)\) VALUES \([?, ]+\)\s*(?P<suffix>.*)",
    re.DOTALL,
)


def write_many(
    session: Session, statement: str, rows: Sequence[Sequence[Any]], *, converted: bool = False
) -> None:
    """The driver's executemany (``?`` placeholders): SQLAlchemy's per-row parameter
    handling costs more than the statements themselves at ingest rates. ``converted``: the
    rows' times are already in the driver's form (``stamp``)."""
    if not rows:
        return
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        plain = _PLAIN_INSERT.fullmatch(statement)
        if plain is not None:  # one statement of arrays (``insert_many``), not one per row
            table = Base.metadata.tables[plain["table"]]
            columns = [name.strip() for name in plain["columns"].split(",")]
            insert_many(connection, table, columns, rows, suffix=plain["suffix"])
            return
        statement = statement.replace("?", "%s")
    elif not converted:
        rows = [tuple(map(_driver_value, row)) for row in rows]
    connection.exec_driver_sql(statement, rows)


def insert_events(
    session: Session, rows: list[tuple[Any, ...]], *, converted: bool = False
) -> list[int]:
    """Insert events (tuples of the ``EVENT_COLUMNS`` in order); their ids in order.
    ``converted``: times already in the driver's form (``stamp``), booleans as integers."""
    return insert_returning_ids(session, Event, EVENT_COLUMNS, rows, converted=converted)


UPDATE_EVENT = (
    "UPDATE event SET size = size + ?, count_positive = count_positive + ?, "
    "count_neutral = count_neutral + ?, count_negative = count_negative + ?, "
    "source_count = ?, heat = ?, updated_at = ?, "
    "first_mention_id = CASE WHEN ? < first_seen_at THEN ? ELSE first_mention_id END, "
    "first_seen_at = CASE WHEN ? < first_seen_at THEN ? ELSE first_seen_at END, "
    "last_seen_at = CASE WHEN ? > last_seen_at THEN ? ELSE last_seen_at END, "
    "representative_id = COALESCE(?, representative_id), "
    "representative_is_reply = CASE WHEN ? THEN false ELSE representative_is_reply END, "
    "title = COALESCE(?, title), duplicate_count = duplicate_count + ?, "
    "vector = COALESCE(?, vector) WHERE id = ?"
)

# One guest fewer: size and sentiment counters down by one, sources recounted (few rows).
UNCOUNT = (
    "UPDATE event SET size = size - 1, "
    "count_positive = count_positive - CASE WHEN ? = 'positive' THEN 1 ELSE 0 END, "
    "count_neutral = count_neutral - CASE WHEN ? = 'neutral' THEN 1 ELSE 0 END, "
    "count_negative = count_negative - CASE WHEN ? = 'negative' THEN 1 ELSE 0 END, "
    "source_count = (SELECT COUNT(*) FROM event_source es WHERE es.event_id = event.id) "
    "WHERE id = ?"
)


def refirst(session: Session, event_ids: list[int], gone: set[int]) -> None:
    """Events whose first or representative mention left them take their earliest
    remaining member instead (rare: a guest is seldom earlier than the post it joined)."""
    query = "SELECT id, first_mention_id, representative_id FROM event WHERE id"
    for event_id, first, representative in where_in(session, query, event_ids, ints=True):
        if first not in gone and representative not in gone:
            continue
        row = session.execute(
            text(
                "SELECT em.mention_id, em.published_at, m.title FROM event_member em "
                "JOIN mention m ON m.id = em.mention_id WHERE em.event_id = :e "
                "ORDER BY em.published_at, em.mention_id LIMIT 1"
            ),
            {"e": event_id},
        ).first()
        if row is None:
            continue
        mention_id, published, title = row
        if isinstance(published, str):
            published = datetime.fromisoformat(published)
        values: dict[str, Any] = {"e": event_id}
        sets = []
        if first in gone:
            sets.append("first_mention_id = :m, first_seen_at = :at")
            values.update(m=mention_id, at=published)
        if representative in gone:
            sets.append("representative_id = :m, title = :t")
            values.update(m=mention_id, t=" ".join((title or "").split())[:300])
        statement = text(f"UPDATE event SET {', '.join(sets)} WHERE id = :e")
        if "at" in values:
            statement = statement.bindparams(bindparam("at", type_=DateTime))
        session.execute(statement, values)


def recent_hours(
    session: Session, event_ids: list[int], at: datetime
) -> dict[int, Counter[datetime]]:
    """Hourly counts of the 25 hours up to ``at`` for each event (growth of the heat); an
    event's hours are few (it lives for days), so older ones are dropped here, not in SQL."""
    since = at.replace(minute=0, second=0, microsecond=0) - timedelta(hours=24)
    found: dict[int, Counter[datetime]] = {e: Counter() for e in event_ids}
    query = "SELECT event_id, hour, count FROM event_hour WHERE event_id"
    for event_id, hour, count in where_in(session, query, event_ids, ints=True):
        if isinstance(hour, str):
            hour = datetime.fromisoformat(hour)
        if since <= hour <= at:
            found[event_id][hour] += count
    return found
