"""Queue mode's durable half: batches written to the inbox table and the two runs over them.

``put`` writes a batch's raw items in the caller's transaction and sends its id to the queue
once that transaction commits (``worker/tasks.py`` holds the queue; it is imported only
then, so nothing here loads Celery). ``analyse`` and ``place`` are what the queue's tasks
run; both take the inbox row's lock first and look at its state, so a batch delivered twice
(a worker died before acknowledging, the sweep sent it again) is stored once:

* ``analyse`` (parallel workers): every stage's before-insert work, the store, and the
  after-insert work of places, scheme matches and near-duplicates, in one transaction with
  the row's move to ``stored``. Killed before the commit, nothing of it is kept; after it,
  the row says so.
* ``place`` (one ordered consumer): events, dashboard counts and alerts of a stored batch,
  in one transaction with the row's move to ``done``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import delete, event, exists, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from yuqing.core.database import savepoint, session_scope
from yuqing.core.timeutil import utcnow
from yuqing.mentions import store
from yuqing.mentions.batch import Batch
from yuqing.notify.models import Notification
from yuqing.sources import storing
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult
from yuqing.worker import pipeline
from yuqing.worker.models import DONE, QUEUED, STORED, InboxBatch

log = logging.getLogger(__name__)

# A concurrent worker may store the same item between our lookup and our insert (the unique
# index refuses the second copy), or PostgreSQL may pick this transaction as a deadlock's
# victim: the batch is run again from the start.
_ATTEMPTS = 3
# A batch whose run failed this many times stays in the inbox with its error for a person.
MAX_ATTEMPTS = 5
# pg_advisory_xact_lock key of the ordered consumer: a second consumer started by mistake
# waits instead of placing events beside the first.
_ORDERED_LOCK = 0x59555149  # "YUQI"
_PENDING = "yuqing_inbox_pending"
_UNREADABLE = "__unreadable__"


def put(
    session: Session,
    *,
    source_id: int,
    origin: str,
    items: Sequence[Any],
) -> InboxBatch:
    """Write a batch to the inbox in the caller's transaction; its id goes to the queue
    when that transaction commits (never before: a worker must find the row)."""
    row = InboxBatch(
        source_id=source_id,
        origin=origin,
        state=QUEUED,
        received=len(items),
        items=orjson.dumps([_plain(item) for item in items]).decode(),
        received_at=utcnow(),
    )
    session.add(row)
    session.flush()
    session.info.setdefault(_PENDING, []).append(row.id)
    return row


def _plain(item: Any) -> Any:
    if isinstance(item, storing.Unreadable):
        return {_UNREADABLE: item.reason}
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_unset=True)
    return item


def _read_items(data: str) -> list[Any]:
    return [
        storing.Unreadable(item[_UNREADABLE])
        if isinstance(item, dict) and _UNREADABLE in item
        else item
        for item in orjson.loads(data)
    ]


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING, None)
    if ids:
        from yuqing.worker import tasks  # Celery is loaded in queue mode only

        tasks.send_analyse(ids)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)


# --- the runs -------------------------------------------------------------------------


def analyse(inbox_id: int) -> bool:
    """Analyse and store one inbox batch unless it was stored before; True when the batch is
    stored (by this run or an earlier one) and waits for the ordered part."""
    with session_scope() as session:
        started = session.execute(
            update(InboxBatch)
            .where(InboxBatch.id == inbox_id, InboxBatch.state == QUEUED)
            .values(attempts=InboxBatch.attempts + 1)
        )
    if not started.rowcount:  # type: ignore[attr-defined]
        return _state(inbox_id) == STORED
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            with session_scope() as session:
                return _analyse_once(session, inbox_id)
        except (IntegrityError, OperationalError) as error:
            if attempt == _ATTEMPTS:
                _record_error(inbox_id, error)
                raise
        except Exception as error:
            _record_error(inbox_id, error)
            raise
    return False  # not reached


def _analyse_once(session: Session, inbox_id: int) -> bool:
    row = _locked(session, inbox_id)
    if row is None or row.state != QUEUED:
        return row is not None and row.state == STORED
    source = session.get(Source, row.source_id)
    assert source is not None  # the inbox row goes with its source (ON DELETE CASCADE)
    batches: list[Batch] = []

    def store_part(items: list[Any]) -> IngestResult:
        # A part that trips over an odd item is rolled back alone (store_isolating then
        # splits it); the parts that succeed commit together with the row's new state.
        with savepoint(session):
            batch = store.prepare(session, source=source, items=items)
            result = pipeline.run_parallel_part(session, batch)
        batches.append(batch)
        return result

    result = storing.store_isolating(store_part, _read_items(row.items))
    row.state, row.stored_at, row.items, row.error = STORED, utcnow(), "", None
    row.batch = orjson.dumps([_slim(batch) for batch in batches]).decode()
    row.result = result.model_dump_json()
    return True


def _slim(batch: Batch) -> dict[str, Any]:
    """The batch as the ordered stages need it: no raw payloads, no outcomes."""
    data = batch.to_dict()
    data["outcomes"] = []
    for name in ("new", "changed", "copies"):
        for row in data[name]:
            row["raw"] = None
    return data


def place(inbox_id: int) -> bool:
    """Run the ordered stages (events, dashboard counts, alerts) of one stored batch unless
    they ran before; True when notifications wait in the outbox."""
    try:
        with session_scope() as session:
            if session.connection().dialect.name == "postgresql":
                session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ORDERED_LOCK})
            row = _locked(session, inbox_id)
            if row is None or row.state != STORED:
                return False
            for data in orjson.loads(row.batch):
                pipeline.run_ordered_part(session, Batch.from_dict(data))
            row.state, row.done_at, row.batch, row.error = DONE, utcnow(), "", None
            return bool(session.scalar(select(exists().where(Notification.state == "pending"))))
    except Exception as error:
        _record_error(inbox_id, error)
        raise


def _locked(session: Session, inbox_id: int) -> InboxBatch | None:
    query = select(InboxBatch).where(InboxBatch.id == inbox_id).with_for_update()
    return session.execute(query).scalar_one_or_none()


def _state(inbox_id: int) -> str | None:
    with session_scope() as session:
        return session.scalar(select(InboxBatch.state).where(InboxBatch.id == inbox_id))


def _record_error(inbox_id: int, error: BaseException) -> None:
    log.error("inbox batch %s failed: %s", inbox_id, error)
    try:
        with session_scope() as session:
            session.execute(
                update(InboxBatch)
                .where(InboxBatch.id == inbox_id)
                .values(error=f"{type(error).__name__}: {error}"[:2000])
            )
    except Exception:  # the database itself is gone: the row keeps its state, the sweep retries
        log.exception("could not record the error of inbox batch %s", inbox_id)


# --- the sweep ------------------------------------------------------------------------


@dataclass(frozen=True)
class Stale:
    """Inbox rows to send again: still queued, and stored but not placed."""

    queued: list[int]
    stored: list[int]


def stale(session: Session, *, now: datetime, older_than: float) -> Stale:
    """Rows waiting longer than ``older_than`` seconds (a batch that failed MAX_ATTEMPTS
    times is left for a person: its error is on the row)."""
    cutoff = now - timedelta(seconds=older_than)
    queued = session.scalars(
        select(InboxBatch.id)
        .where(
            InboxBatch.state == QUEUED,
            InboxBatch.received_at <= cutoff,
            InboxBatch.attempts < MAX_ATTEMPTS,
        )
        .order_by(InboxBatch.id)
    )
    stored = session.scalars(
        select(InboxBatch.id)
        .where(InboxBatch.state == STORED, InboxBatch.stored_at <= cutoff)
        .order_by(InboxBatch.stored_at, InboxBatch.id)
    )
    return Stale(list(queued), list(stored))


def forget_done(session: Session, *, now: datetime, keep_days: int) -> int:
    """Delete rows placed more than ``keep_days`` ago; how many."""
    cutoff = now - timedelta(days=keep_days)
    gone = session.execute(
        delete(InboxBatch).where(InboxBatch.state == DONE, InboxBatch.done_at < cutoff)
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def get_status(session: Session, *, inbox_id: int) -> Mapping[str, Any] | None:
    """What the status route shows of one batch (None: no such batch)."""
    row = session.get(InboxBatch, inbox_id)
    if row is None:
        return None
    return {
        "id": row.id,
        "source_id": row.source_id,
        "state": row.state,
        "received": row.received,
        "attempts": row.attempts,
        "error": row.error,
        "received_at": row.received_at,
        "stored_at": row.stored_at,
        "done_at": row.done_at,
        "result": orjson.loads(row.result) if row.result else None,
    }
