"""One writer per process: concurrent batches are analysed in their own threads, then merged
and written in one transaction (group commit).

SQLite has one writer at a time, and a batch of 100 pays the same fixed costs as one of 1,000
(the lookups' statements, each stage's queries, the commit). So a pushing thread prepares
its batch and runs the analysis stages (``pipeline.analyse``: reads only) beside the others,
then hands it to the one writer thread. The writer takes every batch waiting (up to
``GROUP_ITEMS`` items), merges those of one source into one batch, decides their new rows
again against what is stored now (``store.settle``: an item another batch stored meanwhile
is the same item, a text it stored first makes this one a copy), runs the stages that read
the store, stores, and commits once; each caller then gets the outcomes of its own items.

- **Isolation:** when a merged transaction fails, each batch is written again alone, so one
  batch's bad item fails only that batch (whose caller then isolates the item:
  ``sources.storing.store_isolating``).
- **Same item in two batches:** a batch carrying an item (source and external id or URL)
  that an earlier batch of the group also carries waits for the next group, so the second
  copy finds the first stored and is reported as unchanged or updated, as it would be one
  after the other.
- **Deadlocks** (PostgreSQL, between processes) and serialisation failures roll back the
  whole group, which is written again from the batches as they were handed in: nothing is
  lost or stored twice.
- **Requests waiting to be analysed are prepared together.** A push waits for one of
  ``ANALYSERS`` slots; the thread that gets one takes every request of the same source
  waiting by then (up to ``PREPARE_ITEMS`` items) and prepares and analyses them as one
  batch, so 16 clients sending 100 items each pay the fixed costs of a batch (the lookups,
  each stage's set-up, the model calls) about once per thousand items, as one client
  sending 1,000 does. A request whose items share an external id or URL with a request
  already taken is left for a later batch, so the same item sent twice is still decided
  one push after the other. Each request gets the outcomes of its own items.
"""

from __future__ import annotations

import copy
import logging
import random
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from yuqing.core.database import get_engine, new_session
from yuqing.mentions import store
from yuqing.mentions.batch import Batch, Row
from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, ItemOutcome
from yuqing.worker import pipeline

log = logging.getLogger(__name__)

GROUP_ITEMS = 2_000
"""Items merged into one transaction at most: past this, a group's latency grows without
saving more per item."""

ANALYSERS = 1
"""Batches prepared and analysed at once, beside the writer. Analysis holds the GIL, so
more threads run no faster; with one, the requests arriving meanwhile wait and are then
prepared together (``PREPARE_ITEMS``). In-process, 16 threads pushing 100 items each:
4,160 items per CPU-second with one analyser (three runs, 49–50 batches prepared for 170
requests) against 3,620 with four (102–113 batches); one thread pushing 1,000 gets 4,100–
4,600. Each analyser also holds a pooled connection: 16 at once took the whole pool."""

SWITCH_INTERVAL = 0.0005
"""Seconds a thread holds the GIL before another may take it (Python's default: 0.005)."""

PREPARE_ITEMS = 1_000
"""Items of waiting requests prepared and analysed as one batch at most: the fixed costs
per batch are paid off by then, and one analysis stays short."""

ATTEMPTS = 6
"""Tries of a group's transaction when the database rolled it back to break a deadlock."""

RETRIED_STATES = frozenset({"40P01", "40001", "55P03"})
"""SQLSTATEs a whole transaction is tried again for: deadlock detected, serialisation
failure, lock not available."""

WRITTEN_KEPT = 64
"""Groups whose stored keys the writer keeps for settling batches prepared meanwhile."""

ANALYZE_ROWS = 5_000
"""Rows inserted before the writer first refreshes PostgreSQL's statistics (``ANALYZED``)."""

ANALYZED = ("mention", "mention_band", "event", "event_member", "event_source", "event_hour")
"""The tables whose statistics the writer keeps fresh: those its lookups read and join."""

Key = tuple[int, str, str | int | None]


@dataclass(eq=False)
class _Job:
    """One caller's batch, waiting for the writer."""

    batch: Batch
    items: int
    keys: frozenset[Key]  # its items' identities: merging, and settling later batches
    seen: int  # the writer's commits when this batch began to be prepared
    done: Future[IngestResult] = field(default_factory=Future)


@dataclass(eq=False)
class _Request:
    """One caller's items, waiting to be prepared (maybe with other callers' items)."""

    source_id: int
    items: Sequence[Any]
    keys: frozenset[str]
    done: Future[IngestResult] = field(default_factory=Future)
    taken: bool = False


@dataclass
class _Part:
    """The merged batch of one source in a group, and where each job's items start in it."""

    batch: Batch
    jobs: list[tuple[_Job, int]] = field(default_factory=list)
    size: int = 0


class Writer:
    """The process's writer of collected batches (see the module doc)."""

    def __init__(self, *, group_items: int = GROUP_ITEMS) -> None:
        self.group_items = group_items
        self._jobs: deque[_Job] = deque()
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None
        self._analysers = threading.BoundedSemaphore(ANALYSERS)
        self._waiting: list[_Request] = []
        self._intake = threading.Lock()
        self.prepared = 0  # batches prepared and analysed (several requests may make one)
        self._connection = _OwnConnection()
        self.groups = 0  # transactions committed
        # What each of the last groups stored (its items' identities and ``store.copy_keys``),
        # by group number: a batch prepared while they were written is settled against
        # these keys only.
        self._written: deque[tuple[int, frozenset[Any]]] = deque(maxlen=WRITTEN_KEPT)
        self.retries = 0  # transactions rolled back by the database and tried again
        self._statistics = _Statistics()

    def write(self, source_id: int, items: Sequence[Any]) -> IngestResult:
        """Prepare and analyse ``items`` of the source (with other requests of the source
        waiting meanwhile), then wait until the writer has committed them; their outcomes
        in the order given. Raises what writing this batch raised (the caller isolates a bad
        item or retries a lost race)."""
        request = _Request(source_id, items, _raw_keys(items))
        with self._intake:
            self._waiting.append(request)
        with self._analysers:
            taken = self._take(request)
            if taken:
                self._prepare(taken)
        return request.done.result()

    def _take(self, request: _Request) -> list[_Request]:
        """``request`` and the requests of its source waiting behind it, up to
        ``PREPARE_ITEMS`` items, skipping one that shares an item with those taken; none
        when another thread took ``request`` already."""
        with self._intake:
            if request.taken:
                return []
            taken, size, keys = [request], len(request.items), set(request.keys)
            for other in self._waiting:
                if other is request or other.source_id != request.source_id:
                    continue
                if size + len(other.items) > PREPARE_ITEMS:
                    break
                if not keys.isdisjoint(other.keys):
                    continue
                taken.append(other)
                size += len(other.items)
                keys.update(other.keys)
            for each in taken:
                each.taken = True
            self._waiting = [r for r in self._waiting if not r.taken]
            return taken

    def _prepare(self, taken: list[_Request]) -> None:
        """Prepare and analyse the taken requests as one batch and hand it to the writer;
        each request's future gets its own outcomes (or the error) once written."""
        seen = self.groups
        items = [item for request in taken for item in request.items]
        try:
            with new_session() as session:
                source = session.get(Source, taken[0].source_id)
                if source is None:
                    raise LookupError(f"来源 {taken[0].source_id} 不存在")
                batch = store.prepare(session, source=source, items=items)
                pipeline.analyse(session, batch)
                # Nothing was written: a commit rather than the rollback of closing keeps
                # the driver's prepared statements on the connection (see _OwnConnection).
                session.commit()
        except BaseException as error:
            for request in taken:
                request.done.set_exception(error)
            if not isinstance(error, Exception):
                raise
            return
        self.prepared += 1
        job = _Job(batch, len(items), _keys(batch), seen)
        job.done.add_done_callback(lambda done: _deliver(done, taken))
        with self._ready:
            self._jobs.append(job)
            self._ready.notify()
            if self._thread is None or not self._thread.is_alive():
                # The writer waits on the database many times a group; with the default
                # 5 ms switch interval it then waited as long again for the GIL, held by
                # the threads analysing the next batches.
                sys.setswitchinterval(SWITCH_INTERVAL)
                self._thread = threading.Thread(target=self._run, name="yuqing-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            group = self._next_group()
            try:
                self._write(group)
            except BaseException as error:  # never leave a caller waiting
                for job in group:
                    if not job.done.done():
                        job.done.set_exception(error)
                if not isinstance(error, Exception):
                    raise

    def _next_group(self) -> list[_Job]:
        """Every batch waiting, up to ``group_items`` items, stopping before a batch that
        shares an item with one already taken."""
        with self._ready:
            while not self._jobs:
                self._ready.wait()
            first = self._jobs.popleft()
            group, size, keys = [first], first.items, set(first.keys)
            while self._jobs and size + self._jobs[0].items <= self.group_items:
                job = self._jobs[0]
                if not keys.isdisjoint(job.keys):
                    break
                group.append(self._jobs.popleft())
                size += job.items
                keys.update(job.keys)
            return group

    def _write(self, group: list[_Job]) -> None:
        """Commit the group; when that fails, each batch alone (its own error to its caller)."""
        try:
            results, stored = self._commit(group)
        except Exception as error:
            if len(group) == 1:
                group[0].done.set_exception(error)
                return
            log.info(
                "a merged write of %d batches failed (%r): writing each alone", len(group), error
            )
            for job in group:
                self._write([job])
            return
        self.groups += 1
        self._written.append((self.groups, stored))
        for job, result in zip(group, results, strict=True):
            job.done.set_result(result)
        self._statistics.count(sum(r.new + r.duplicate for r in results))

    def _commit(self, group: list[_Job]) -> tuple[list[IngestResult], frozenset[Any]]:
        """One transaction for the group, tried again from the batches as handed in when
        the database broke a deadlock or a serialisation conflict by rolling it back, or
        when the writer's connection was lost (the database restarted): then on a new one,
        and the batches are settled against all that is stored, since the commit may have
        reached the database before the connection broke. A group the database refused
        (a unique key: another process stored one of its items meanwhile) is tried once
        more, settled against all that is stored. Returns the results and what the group
        stored (its batches' identity keys and ``store.copy_keys``)."""
        everything = False  # settle against all that is stored, not just the recent groups
        refused = False
        for attempt in range(1, ATTEMPTS + 1):
            try:
                written = None if everything else self._written_since(group)
                # A batch alone with nothing stored since it was prepared has nothing to
                # settle (another process's write meets the unique index: see below).
                alone = len(group) == 1 and written is not None and not written
                return _commit_once(
                    group, settle=not alone, written=written, connection=self._connection
                )
            except Exception as error:
                lost = self._connection.lost()
                state = getattr(getattr(error, "orig", None), "sqlstate", None)
                again = isinstance(error, IntegrityError) and not refused
                if not (lost or again or state in RETRIED_STATES) or attempt == ATTEMPTS:
                    raise
                everything = everything or lost or again
                refused = refused or again
                self.retries += 1
                why = "connection lost" if lost else "refused" if again else state
                log.info("write of %d batches rolled back (%s), again", len(group), why)
                if not again:
                    time.sleep(random.uniform(0.005, 0.02) * 2**attempt)
        raise AssertionError("unreachable")

    def _written_since(self, group: list[_Job]) -> frozenset[Any] | None:
        """The keys the writer stored since the group's oldest batch began to be prepared;
        None when those groups are no longer kept (settle then looks every row up)."""
        since = min(job.seen for job in group)
        if since == self.groups:
            return frozenset()
        if not self._written or self._written[0][0] > since + 1:
            return None
        keys: set[Any] = set()
        for number, written in self._written:
            if number > since:
                keys.update(written)
        return frozenset(keys)


class _Statistics:
    """Keeps PostgreSQL's statistics of the tables the writer reads fresh while they grow.

    Autovacuum analyses a table once a tenth of it changed and a minute passed; a desk
    filling up from empty stays on the statistics of small tables meanwhile. The planner
    then read a whole source for the same-item lookup (52 ms a batch measured, 0.3 ms
    after ANALYZE); and a prepared statement keeps the plan it got while its tables were
    small until they are analysed again: the event members of a batch were looked up by
    reading every member and every event (25–40 ms a batch at 600,000 mentions in
    bench/soak.py, 0.1 ms after ANALYZE). Once the rows the writer inserted reach a fifth
    of the mentions there were at the last ANALYZE (at least ``ANALYZE_ROWS``), a thread of
    its own analyses ``ANALYZED``, one run at a time: the writer does not wait for it."""

    def __init__(self) -> None:
        self.inserted = 0
        self.threshold = ANALYZE_ROWS
        self.analysed = 0  # ANALYZE runs finished
        self._running = threading.Lock()

    def count(self, rows: int) -> None:
        self.inserted += rows
        if self.inserted < self.threshold:
            return
        if get_engine().dialect.name != "postgresql":
            self.threshold = 2**62
            return
        if not self._running.acquire(blocking=False):
            return  # the last one is still running; it counts from its start
        self.inserted = 0
        threading.Thread(target=self._analyse, name="yuqing-analyse", daemon=True).start()

    def _analyse(self) -> None:
        try:
            with new_session() as session:
                connection = session.connection()
                connection.exec_driver_sql(f"ANALYZE {', '.join(ANALYZED)}")
                estimate = connection.exec_driver_sql(
                    "SELECT reltuples FROM pg_class WHERE relname = 'mention'"
                ).scalar_one()
                session.commit()
            self.threshold = max(ANALYZE_ROWS, int(float(estimate or 0) / 5))
            self.analysed += 1
        except Exception:  # a broken connection, the database restarting: no thread dies loud
            log.warning("ANALYZE failed; the next threshold tries again", exc_info=True)
        finally:
            self._running.release()


def _raw_keys(items: Sequence[Any]) -> frozenset[str]:
    """What could make an item of one request the same item as one of another, read from
    the items as sent: the external id (under any of its names) and the URL."""
    keys: set[str] = set()
    for item in items:
        if isinstance(item, Mapping):
            found = [item.get(name) for name in ("external_id", "id", "mid")]
            url = item.get("url")
        else:
            found = [getattr(item, "external_id", None)]
            url = getattr(item, "url", None)
        for value in found:
            if value is not None and str(value).strip():
                keys.add("id:" + str(value).strip())
        if isinstance(url, str) and url.strip():
            keys.add("url:" + url.strip().lower().split("#", 1)[0].rstrip("/"))
    return frozenset(keys)


def _deliver(done: Future[IngestResult], taken: list[_Request]) -> None:
    """Each request's outcomes out of the written batch's, at its own positions."""
    error = done.exception()
    if error is not None:
        for request in taken:
            request.done.set_exception(error)
        return
    result = done.result()
    if len(taken) == 1:
        taken[0].done.set_result(result)
        return
    starts, size = [], 0
    for request in taken:
        starts.append(size)
        size += len(request.items)
    for request, outcomes in zip(taken, _cut(result.outcomes, starts, size), strict=True):
        request.done.set_result(_result_of(outcomes))


def _cut(outcomes: list[ItemOutcome], starts: list[int], size: int) -> list[list[ItemOutcome]]:
    """Outcomes sorted by index, cut at ``starts`` (where each caller's items begin in the
    merged batch of ``size`` items), each index moved back to its caller's own positions."""
    parts: list[list[ItemOutcome]] = [[] for _ in starts]
    bounds = [*starts[1:], size]
    at = 0
    for outcome in outcomes:
        while outcome.index >= bounds[at]:
            at += 1
        outcome.index -= starts[at]
        parts[at].append(outcome)
    return parts


def _result_of(outcomes: list[ItemOutcome]) -> IngestResult:
    answer = IngestResult(outcomes=outcomes)
    for outcome in outcomes:
        setattr(answer, outcome.status, getattr(answer, outcome.status) + 1)
    return answer


def _keys(batch: Batch) -> frozenset[Key]:
    source = batch.source.id
    return frozenset(
        (source, *store.identity(row))
        for row in (*batch.new, *batch.changed, *batch.copies)
        if store.identity(row)[1] is not None
    )


class _OwnConnection:
    """The writer's own connection, kept from one group to the next.

    SQLite: a connection in WAL mode empties its whole page cache when it begins a
    transaction after another connection committed. Taken from the pool, a group's
    transaction mostly had a connection that others (the previous group's among them) had
    committed past, and read every index page it probes (same item, near-duplicate bands,
    event links) from the file again, more of them as the indexes grew. Kept, its cache
    survives the writer's own commits; other connections' commits still empty it (the
    search index deletes the change log rows it applied after each group). bench/soak.py at
    400 items/s, push p95 in minute 6: 970–1,505 ms in three runs with pooled connections,
    544 and 857 ms in two with this one (load 5–10, other benchmarks running).

    PostgreSQL: psycopg prepares a statement on its fifth run on a connection and forgets
    every prepared statement when the connection rolls back, as pooled connections do when
    a reading session closes. Taken from the pool, most of the writer's 40-odd statements a
    group were parsed and planned anew each time; kept, they stay prepared (bench/push.py,
    one client × 100: 2,330 → 2,630 items/s, docs/pipeline.md "Tenth session")."""

    def __init__(self) -> None:
        self._held: Connection | None = None

    def session(self) -> Session:
        engine = get_engine()
        held = self._held
        if held is None or held.engine is not engine or held.closed or held.invalidated:
            if held is not None and not held.closed:
                held.close()  # the application moved to another engine (tests, CLI)
            held = self._held = engine.connect()
        return Session(bind=held, expire_on_commit=False)

    def lost(self) -> bool:
        """Whether the held connection broke (the database restarted or ended it). A break
        the driver saw first (psycopg's ``broken``: its socket is gone) is told to
        SQLAlchemy too, so that ``session`` connects anew, as it does for one SQLAlchemy
        found broken itself."""
        held = self._held
        if held is None or held.closed:
            return False
        if not held.invalidated and getattr(held.connection.dbapi_connection, "broken", False):
            held.invalidate()
        return held.invalidated


def _commit_once(
    group: list[_Job],
    *,
    settle: bool,
    written: frozenset[Any] | None,
    connection: _OwnConnection,
) -> tuple[list[IngestResult], frozenset[Any]]:
    parts = _merge(group)
    with connection.session() as session:
        _begin_write(session)
        results = [
            pipeline.write(session, part.batch, settle=settle, written=written) for part in parts
        ]
        session.commit()
    stored = frozenset().union(
        *(job.keys for job in group), *(store.copy_keys(part.batch) for part in parts)
    )
    return _split(group, parts, results), stored


def _begin_write(session: Session) -> None:
    """On SQLite, take the write lock at the start (BEGIN IMMEDIATE): a transaction that
    read first and writes later fails at once, without waiting, when another connection
    wrote in between."""
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:
            raw.execute("BEGIN IMMEDIATE")


def _merge(group: list[_Job]) -> list[_Part]:
    """One batch per source, of copies of the jobs' rows with their positions shifted past
    the earlier jobs' items (a job's own batch stays as handed in, for another try)."""
    parts: dict[int, _Part] = {}
    for job in group:
        given = job.batch
        part = parts.get(given.source.id)
        if part is None:
            merged = Batch(source=given.source, collected_at=given.collected_at, analysed=True)
            part = parts[given.source.id] = _Part(merged)
        offset = part.size
        part.jobs.append((job, offset))
        part.size += job.items
        merged = part.batch
        merged.new.extend(_shifted(row, offset) for row in given.new)
        merged.changed.extend(_shifted(row, offset) for row in given.changed)
        merged.copies.extend(_shifted(row, offset) for row in given.copies)
        merged.outcomes.extend(
            outcome.model_copy(update={"index": outcome.index + offset})
            for outcome in given.outcomes
        )
    return list(parts.values())


def _shifted(row: Row, offset: int) -> Row:
    moved = copy.copy(row)
    moved.index += offset
    if moved.original_index is not None:
        moved.original_index += offset
    return moved


def _split(
    group: list[_Job], parts: list[_Part], results: list[IngestResult]
) -> list[IngestResult]:
    """Each job's outcomes, at its own positions, with its own counts."""
    outcomes: dict[int, list[ItemOutcome]] = {}
    for part, result in zip(parts, results, strict=True):
        starts = [offset for _, offset in part.jobs]
        cut = _cut(result.outcomes, starts, part.size)
        for (job, _), mine in zip(part.jobs, cut, strict=True):
            outcomes[id(job)] = mine
    return [_result_of(outcomes[id(job)]) for job in group]


_writer = Writer()


def write(source_id: int, items: Sequence[Any]) -> IngestResult:
    """Store ``items`` of a source through the process's writer (see ``Writer.write``)."""
    return _writer.write(source_id, items)
