"""Signatures of the small configuration tables every batch reads, asked of the database at
most once a second instead of once a batch.

The ingest keeps compiled forms of the schemes, the alert rules and the sensitive words in
memory and rebuilds them when a signature of their table (count, versions, last change)
differs. Asking for the signature cost one to three statements per batch: 4 ms of a
PostgreSQL batch of 100, about a tenth of its database time. Now a ``Signature`` keeps the
value it read, per database, and asks again only when

- this process committed a change to one of its tables (any ``Session``: the desk's pages
  and API run in the ingesting process, so an edit made there reaches the very next batch),
  or
- ``CHECK_SECONDS`` passed since it last asked (an edit made by another process: the
  ``yuqing`` command line, a second server, the queue workers).

A change in another process therefore reaches this one within a second. Changes are noted
at commit from the ORM (objects flushed, ``update()``/``delete()`` statements on a watched
entity); a change by plain SQL text is seen by the time check only.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.orm import ORMExecuteState, Session, UOWTransaction

CHECK_SECONDS = 1.0
"""Seconds a signature read from the database is trusted when this process changed nothing."""

_CHANGED = "yuqing_changed_tables"  # Session.info key: watched tables changed, not committed

_watched: set[str] = set()
_commits: Counter[str] = Counter()  # committed changes per watched table, in this process
_lock = threading.Lock()


@dataclass(frozen=True)
class _Reading:
    value: tuple[object, ...]
    changes: int
    at: float


class Signature:
    """A table signature (``probe``'s result) cached per database (see the module doc)."""

    def __init__(
        self, tables: tuple[str, ...], probe: Callable[[Session], tuple[object, ...]]
    ) -> None:
        self.tables = tables
        self.probe = probe
        self._readings: dict[str, _Reading] = {}
        _watched.update(tables)

    def get(self, session: Session) -> tuple[object, ...]:
        """The signature, the database's first element: the URL, so caches keyed on it keep
        one value per database."""
        key = _database_key(session)
        changes = self._changes()
        reading = self._readings.get(key)
        now = time.monotonic()
        if reading is not None and reading.changes == changes and now - reading.at < CHECK_SECONDS:
            return reading.value
        # ``changes`` was counted before asking: a commit landing meanwhile asks again.
        value = (key, *self.probe(session))
        self._readings[key] = _Reading(value, changes, now)
        return value

    def _changes(self) -> int:
        return sum(_commits[table] for table in self.tables)

    @classmethod
    def of_versions(cls, *models: Any) -> Signature:
        """The signature of tables whose rows carry ``id``, ``version`` and ``updated_at``
        (every change bumps the last two): per table the count, the sum of versions, the
        newest id and the newest change."""

        def probe(session: Session) -> tuple[object, ...]:
            values: list[object] = []
            for model in models:
                values.extend(
                    session.execute(
                        select(
                            func.count(model.id),
                            func.coalesce(func.sum(model.version), 0),
                            func.max(model.id),
                            func.max(model.updated_at),
                        )
                    ).one()
                )
            return tuple(values)

        return cls(tuple(model.__tablename__ for model in models), probe)


def changed(*tables: str) -> None:
    """Note a committed change made without the ORM (plain SQL): the next read asks again."""
    with _lock:
        for table in tables:
            _commits[table] += 1


def forget_all() -> None:
    """Every signature asks again (a test that emptied the tables under the process)."""
    with _lock:
        _commits.update({table: 1 for table in _watched})


def _database_key(session: Session) -> str:
    bind = session.get_bind()
    engine = getattr(bind, "engine", None)
    return str(engine.url) if engine is not None else ""


def _note(session: Session, tables: set[str]) -> None:
    if tables:
        session.info.setdefault(_CHANGED, set()).update(tables)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: UOWTransaction) -> None:
    if not _watched:
        return
    _note(
        session,
        {
            name
            for instance in (*session.new, *session.dirty, *session.deleted)
            if (name := _table_of(instance)) in _watched
        },
    )


@event.listens_for(Session, "do_orm_execute")
def _on_execute(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete) and state.bind_mapper is not None:
        table = getattr(state.bind_mapper.local_table, "name", None)
        if table in _watched:
            _note(state.session, {table})


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    tables = session.info.pop(_CHANGED, None)
    if tables:
        changed(*tables)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)


def _table_of(instance: Any) -> str | None:
    table = getattr(type(instance), "__table__", None)
    return getattr(table, "name", None)
