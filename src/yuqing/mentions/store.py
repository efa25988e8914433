"""Storing collected items: prepare a typed batch (normalise, find the same item stored
before, split off exact copies), then store it once and index it for search.

``prepare`` and ``store`` are what the pipeline (``worker/pipeline.py``) runs around its
stages; ``ingest`` stores without analysis (tests and the store-only benchmark: collected
items come in through the pipeline).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cache
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import Select, Table, Text, Update, any_, bindparam, func, select, true, update
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from yuqing.core.database import insert_many, insert_returning_ids, pg_array, reserve_ids
from yuqing.core.timeutil import utcnow
from yuqing.mentions import items as reading
from yuqing.mentions import search
from yuqing.mentions.batch import ANALYSIS_COLUMNS, INSERTED_COLUMNS, Batch, Row, SourceRef
from yuqing.mentions.models import Mention
from yuqing.sources.models import Source
from yuqing.sources.schemas import MAX_COUNT, IngestResult, ItemIn, ItemOutcome

__all__ = ["finish", "identity", "ingest", "prepare", "settle", "store"]

log = logging.getLogger(__name__)
_COLUMNS_OF = attrgetter(*INSERTED_COLUMNS)


Key = tuple[str, str | int | None]


_UPDATABLE = (
    "url",
    "canonical_url",
    "url_hash",
    "title",
    "text",
    "author",
    "published_at",
    "parent_external_id",
    "root_external_id",
    "language",
    "raw",
    "content_hash",
    "search_text",
    # A platform's counts grow: a copy sent again with new counts updates them.
    "reposts",
    "comments",
    "likes",
    "heat",
)


def prepare(
    session: Session, *, source: Source, items: Sequence[ItemIn | Mapping[str, Any]]
) -> Batch:
    """The batch to store for ``items`` of ``source``: each valid item normalised, then
    sorted into new originals, changed rows (the same item stored before, changed), exact
    copies; failed and unchanged items are decided here (``batch.outcomes``). Reads only.

    The same item (same source and external id, or same source and canonical URL) is stored
    once and updated when it changed. A copy of an item already stored from elsewhere (same
    canonical URL, or same normalised title and text) is kept as a ``duplicate`` row linked
    to the first copy, which counts it.
    """
    now = utcnow()
    batch = Batch(source=SourceRef.of(source), collected_at=now)
    rows: list[Row] = []
    for index, item in reading.validate(items, batch.outcomes):
        try:
            row = reading.normalise_item(
                item, index=index, source_id=source.id, now=now, source_platform=source.platform
            )
            reading.check_storable(row)
            rows.append(row)
        except ValueError as error:
            batch.outcomes.append(reading.outcome(index=index, status="failed", error=str(error)))
    rows = _merge_same_item_in_batch(rows, batch.outcomes)
    existing = _existing_same_items(session, source.id, rows)
    fresh: list[Row] = []
    for row in rows:
        current = existing.get(identity(row))
        if current is None:
            fresh.append(row)
            continue
        changes = _changes(row, current)
        if not changes:
            batch.outcomes.append(
                reading.outcome(index=row.index, status="unchanged", mention_id=current["id"])
            )
            continue
        row.id, row.stored_status, row.changed = current["id"], current["status"], changes
        batch.changed.append(row)
    batch.new, batch.copies = _split_copies(session, fresh)
    return batch


def settle(session: Session, batch: Batch, *, written: frozenset[Any] | None = None) -> None:
    """Decide the batch's new originals again against the store as it is now, inside the
    writing transaction: a batch prepared beside others (``worker/writer.py`` merges
    concurrent batches into one transaction) may hold an item that was stored meanwhile, or
    a copy of a text another batch stored first. Such a row becomes a changed row, an
    unchanged outcome or an exact copy (its analysis is kept: a copy just does not use it),
    and a copy that pointed at it follows it to its original. Rows of the merged batch are
    seen in their order, so of two batches carrying one new text the first keeps it.

    ``written``: the identities and ``copy_keys`` of everything stored since the batch was
    prepared, when the caller knows them (the writer keeps those of its own recent groups);
    only rows holding one of them are looked up again. None: every row is.
    """
    if not batch.new:
        return
    source = batch.source.id
    suspects = (
        batch.new
        if written is None
        else [row for row in batch.new if (source, *identity(row)) in written]
    )
    existing = _existing_same_items(session, source, suspects) if suspects else {}
    moved: dict[int, tuple[int | None, int | None]] = {}  # index -> (stored id, batch index)
    fresh: list[Row] = []
    for row in batch.new:
        current = existing.get(identity(row))
        if current is None:
            fresh.append(row)
            continue
        moved[row.index] = (current["id"], None)
        changes = _changes(row, current)
        if not changes:
            batch.outcomes.append(
                reading.outcome(index=row.index, status="unchanged", mention_id=current["id"])
            )
            continue
        row.id, row.stored_status, row.changed = current["id"], current["status"], changes
        batch.changed.append(row)
    originals, copies = _split_copies(session, fresh, written=written)
    moved.update((row.index, (row.duplicate_of_id, row.original_index)) for row in copies)
    for row in batch.copies:
        while row.original_index in moved:
            row.duplicate_of_id, row.original_index = moved[row.original_index]
    batch.new = originals
    batch.copies.extend(copies)


def store(session: Session, batch: Batch) -> IngestResult:
    """Write a prepared batch: update changed rows, insert new originals and exact copies
    (filling each row's ``id``), index for search; ``finish`` then counts the copies and the
    source, after the stages. The caller commits.

    A changed row's analysis columns are rewritten only when the stages ran
    (``batch.analysed``)."""
    now = batch.collected_at
    result = IngestResult(outcomes=list(batch.outcomes))
    reindex: list[tuple[int, str]] = []
    for row in batch.changed:
        assert row.id is not None
        changes = {name: getattr(row, name) for name in row.changed}
        if batch.analysed:
            changes.update({name: getattr(row, name) for name in ANALYSIS_COLUMNS})
        changes["updated_at"] = now
        session.execute(update(Mention).where(Mention.id == row.id).values(**changes))
        if row.stored_status == "new" and "search_text" in changes:
            reindex.append((row.id, changes["search_text"]))
        result.outcomes.append(
            reading.outcome(index=row.index, status="updated", mention_id=row.id)
        )

    fresh_index: list[tuple[int, str, datetime]] = []
    id_of_index: dict[int, int] = {}
    # PostgreSQL gives the ids first, so originals and copies go in one statement (one
    # statement trigger, one round trip); on SQLite the insert gives them.
    reserved = reserve_ids(session, Mention, len(batch.new) + len(batch.copies))
    new_ids = _insert(session, batch.new) if reserved is None else reserved[: len(batch.new)]
    for row, mention_id in zip(batch.new, new_ids, strict=True):
        row.id = id_of_index[row.index] = mention_id
        fresh_index.append((mention_id, row.search_text, row.published_at))
        result.outcomes.append(
            reading.outcome(index=row.index, status="new", mention_id=mention_id)
        )
    for row in batch.copies:
        if row.original_index is not None:  # a copy of an original earlier in this batch
            row.duplicate_of_id = id_of_index[row.original_index]
    if reserved is None:
        copy_ids = _insert(session, batch.copies)
    else:
        copy_ids = reserved[len(batch.new) :]
        insert_many(
            session.connection(),
            cast(Table, Mention.__table__),
            ("id", *INSERTED_COLUMNS),
            [
                (i, *_COLUMNS_OF(row))
                for i, row in zip(reserved, [*batch.new, *batch.copies], strict=True)
            ],
        )
    for row, mention_id in zip(batch.copies, copy_ids, strict=True):
        row.id = mention_id
        assert row.duplicate_of_id is not None
        result.outcomes.append(
            reading.outcome(
                index=row.index,
                status="duplicate",
                mention_id=mention_id,
                duplicate_of=row.duplicate_of_id,
            )
        )
    search.index_rows(session, reindex)
    search.index_new(session, fresh_index)

    result.outcomes.sort(key=lambda o: o.index)
    for each in result.outcomes:
        setattr(result, each.status, getattr(result, each.status) + 1)
    return result


def finish(session: Session, batch: Batch, result: IngestResult) -> None:
    """The writes every batch of a source shares, last in the transaction: copies counted on
    their originals, the batch counted on its source.

    An often-repeated text's original and the source row are updated by every concurrent
    batch that holds a copy of it: on PostgreSQL each such update holds its row until the
    commit, so they come last (held for the shortest time) and in one order (originals by
    id, then the source), so two transactions never wait on each other in a circle."""
    bumps = Counter(row.duplicate_of_id for row in batch.copies if row.duplicate_of_id)
    if bumps:
        session.connection().execute(
            update(Mention)
            .where(Mention.id == bindparam("first_id"))
            .values(duplicate_count=Mention.duplicate_count + bindparam("extra")),
            [{"first_id": first, "extra": bumps[first]} for first in sorted(bumps)],
        )
    _count_on_source(session, batch.source.id, result, batch.collected_at)


def ingest(
    session: Session, *, source: Source, items: Sequence[ItemIn | Mapping[str, Any]]
) -> IngestResult:
    """Store a batch of items from one source without analysing them; the caller commits.

    Collected items go through ``worker.pipeline.process`` (this, with the stages); this is
    storing alone, for tests that set up stored mentions and the store-only benchmark."""
    batch = prepare(session, source=source, items=items)
    result = store(session, batch)
    finish(session, batch, result)
    return result


def _changes(row: Row, current: Mapping[str, Any]) -> list[str]:
    """Columns of a stored item that a new copy changes; a new raw payload alone is no change,
    nor is a missing publication time (it defaulted to the time of collection). A count not
    sent again keeps its stored value."""
    if row.reposts is None or row.comments is None or row.likes is None:
        if row.reposts is None:
            row.reposts = current["reposts"]
        if row.comments is None:
            row.comments = current["comments"]
        if row.likes is None:
            row.likes = current["likes"]
        row.heat = min((row.reposts or 0) + (row.comments or 0) + (row.likes or 0), MAX_COUNT)
    compared = _COMPARED_NAMES if row.published_given else _COMPARED_WITHOUT_TIME
    changes = [name for name in compared if getattr(row, name) != current[name]]
    if changes and row.raw != current["raw"]:
        changes.append("raw")
    return changes


_COMPARED_NAMES = tuple(k for k in _UPDATABLE if k != "raw")
_COMPARED_WITHOUT_TIME = tuple(k for k in _COMPARED_NAMES if k != "published_at")


def identity(row: Row) -> Key:
    """What makes two rows of one source the same item: the external id, else the URL."""
    if row.external_id:
        return ("id", row.external_id)
    return ("url", row.url_hash)


def copy_keys(batch: Batch) -> frozenset[Any]:
    """The keys a later text is found a copy of ``batch``'s new originals by:
    ``("u", url hash)`` and ``("c", content hash)``. With the identities of the batch's rows
    (``(source id, kind, value)``), what storing it can change in the ``settle`` of a batch
    prepared before."""
    keys: set[Any] = {("c", row.content_hash) for row in batch.new}
    keys.update(("u", row.url_hash) for row in batch.new if row.url_hash is not None)
    return frozenset(keys)


def _merge_same_item_in_batch(rows: list[Row], outcomes: list[ItemOutcome]) -> list[Row]:
    """An item sent twice in one batch is stored once: the later copy wins."""
    latest: dict[Key, Row] = {}
    unkeyed: list[Row] = []
    for row in rows:
        key = identity(row)
        if key[1] is None:
            unkeyed.append(row)
            continue
        previous = latest.get(key)
        if previous is not None:
            outcomes.append(reading.outcome(index=previous.index, status="unchanged"))
        latest[key] = row
    return sorted([*latest.values(), *unkeyed], key=lambda r: r.index)


_COMPARED = (Mention.id, Mention.status, *[getattr(Mention, k) for k in _UPDATABLE])


def _existing_same_items(
    session: Session, source_id: int, rows: list[Row]
) -> dict[Key, dict[str, Any]]:
    external_ids = [r.external_id for r in rows if r.external_id]
    url_hashes = [r.url_hash for r in rows if not r.external_id and r.url_hash is not None]
    found: dict[Key, dict[str, Any]] = {}
    for chunk in _chunks(external_ids):
        query = _lookup(
            session,
            Mention.external_id,
            chunk,
            Mention.source_id == source_id,
            columns=(Mention.external_id, *_COMPARED),
        )
        for rec in session.execute(query).mappings():
            found[("id", rec["external_id"])] = dict(rec)
    for chunk in _chunks(url_hashes):
        query = _lookup(
            session,
            Mention.url_hash,
            chunk,
            Mention.source_id == source_id,
            Mention.external_id.is_(None),
            columns=_COMPARED,
        )
        for rec in session.execute(query).mappings():
            found[("url", rec["url_hash"])] = dict(rec)
    return found


def _postgresql(session: Session) -> bool:
    return session.bind is not None and session.bind.dialect.name == "postgresql"


def _lookup(
    session: Session, key: Any, values: list[Any], *conditions: Any, columns: Sequence[Any]
) -> Select[Any]:
    """The rows whose ``key`` is one of ``values`` (and that meet ``conditions``).

    On PostgreSQL one index probe per value, whatever the statistics say: each value is
    looked up in a LATERAL subquery that OFFSET 0 keeps from being flattened into a join.
    With ``IN (…)`` or ``= ANY(…)`` the planner, on the statistics of a table that grew
    since its last ANALYZE, used only the source column of the (source, external id) index
    and read the whole source: 3–20 ms for 100 ids in a source of 12,000–30,000 rows
    against 0.2 ms (EXPLAIN ANALYZE, docs/pipeline.md)."""
    if not _postgresql(session):
        return select(*columns).where(key.in_(values), *conditions)
    keys = _unnest(key, values)
    probe = select(*columns).where(key == keys.c.value, *conditions).offset(0).lateral("m")
    return select(*probe.c).select_from(keys).join(probe, true())


def _unnest(key: Any, values: list[Any]) -> Any:
    """``unnest(:values) AS k(value)``: one array parameter whatever the count."""
    return func.unnest(_array(key, values)).table_valued("value").render_derived(name="k")


def _among(session: Session, column: Any, values: list[Any]) -> Any:
    """``column IN values``; on PostgreSQL ``column = ANY(array)``: one parameter and one
    statement text whatever the count."""
    if _postgresql(session):
        return column == any_(_array(column, values))
    return column.in_(values)


def _array(column: Any, values: list[Any]) -> Any:
    """``values`` as one array of ``column``'s type, sent as a literal (``pg_array``)."""
    literal = bindparam(None, pg_array(values), type_=Text)
    return sql_cast(literal, postgresql.ARRAY(column.type))


def _insert(session: Session, rows: list[Row]) -> list[int]:
    """Insert rows in one statement; their ids in order."""
    return insert_returning_ids(session, Mention, INSERTED_COLUMNS, list(map(_COLUMNS_OF, rows)))


def _split_copies(
    session: Session, fresh: list[Row], *, written: frozenset[Any] | None = None
) -> tuple[list[Row], list[Row]]:
    """Separate originals from exact copies (same canonical URL or same title and text).

    A copy of a stored mention gets that mention's id as ``duplicate_of_id``; a copy of an
    earlier row of the same batch gets that row's ``index`` as ``original_index``, resolved
    once the original has its id. Copies are stored with status ``duplicate``. With
    ``written`` (see ``settle``) only those keys are looked up in the store.
    """
    if not fresh:
        return [], []
    url_hashes = list({r.url_hash for r in fresh if r.url_hash is not None})
    hashes = list({r.content_hash for r in fresh})
    if written is not None:
        url_hashes = [k for k in url_hashes if ("u", k) in written]
        hashes = [k for k in hashes if ("c", k) in written]
    stored = {
        **{("u", k): m for k, m in _first_listed(session, Mention.url_hash, url_hashes).items()},
        **{("c", k): m for k, m in _first_listed(session, Mention.content_hash, hashes).items()},
    }
    originals: list[Row] = []
    copies: list[Row] = []
    in_batch: dict[tuple[str, int], int] = {}
    for row in fresh:
        keys = [("c", row.content_hash)]
        if row.url_hash is not None:
            keys.insert(0, ("u", row.url_hash))
        first = next((stored[k] for k in keys if k in stored), None)
        earlier = (
            None if first is not None else next((in_batch[k] for k in keys if k in in_batch), None)
        )
        if first is not None or earlier is not None:
            row.status, row.duplicate_of_id, row.original_index = "duplicate", first, earlier
            copies.append(row)
            continue
        originals.append(row)
        for key in keys:
            in_batch[key] = row.index
    return originals, copies


def _first_listed(session: Session, column: Any, keys: list[int]) -> dict[int, int]:
    """The first listed mention (lowest id with status ``new``) holding each of ``keys``.

    A popular text has thousands of stored copies sharing its hash. The smallest id per key
    comes from the index alone (no row is read); it is almost always the listed original,
    and only the keys where it is not are looked up row by row. (One query per key column,
    each on its own index: with "status = 'new' AND (a OR b)" SQLite may pick the status
    index and scan every listed mention.)
    """
    first: dict[int, int] = {}
    for chunk in _chunks(keys):
        first.update(
            {
                key: mention_id
                for key, mention_id in session.execute(_first_ids(session, column, chunk))
                if key is not None and mention_id is not None
            }
        )
    if not first:
        return {}
    ids = list(first.values())
    listed: set[int] = set()
    for id_chunk in _chunks(ids):
        # Status is checked here, not in SQL, where it would pick the status index.
        query = select(Mention.id, Mention.status).where(_among(session, Mention.id, id_chunk))
        listed.update(m for m, status in session.execute(query) if status == "new")
    found = {key: mention_id for key, mention_id in first.items() if mention_id in listed}
    rest = [key for key in first if key not in found]
    for chunk in _chunks(rest):
        listed_query = select(Mention.id, column).where(
            _among(session, column, chunk), Mention.status == "new"
        )
        for mention_id, key in session.execute(listed_query):
            if mention_id < found.get(key, mention_id + 1):
                found[key] = mention_id
    return found


def _first_ids(session: Session, column: Any, keys: list[int]) -> Select[Any]:
    """The smallest mention id holding each of ``keys`` (one index probe per key on
    PostgreSQL, as ``_lookup``)."""
    if not _postgresql(session):
        return select(column, func.min(Mention.id)).where(column.in_(keys)).group_by(column)
    values = _unnest(column, keys)
    smallest = select(func.min(Mention.id).label("id")).where(column == values.c.value)
    probe = smallest.offset(0).lateral("m")
    return select(values.c.value, probe.c.id).select_from(values).join(probe, true())


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _count_on_source(session: Session, source_id: int, result: IngestResult, now: Any) -> None:
    """The batch counted on its source, by a statement built once (``_source_counts``)."""
    session.connection().execute(
        _source_counts(with_time=bool(result.new)),
        {
            "source": source_id,
            "new": result.new,
            "duplicate": result.duplicate,
            "updated": result.updated,
            "failed": result.failed,
            "now": now,
        },
    )


@cache
def _source_counts(*, with_time: bool) -> Update:
    """The source's counters raised, on the table (a Core statement, compiled once): as an
    ORM update through the session it cost about 0.45 ms a push, the session's objects
    searched for the row to refresh (59 of 1,683 samples of the server's GIL in
    bench/push.py's one client × 100 rows of 64,000 items, py-spy)."""
    table = cast(Table, Source.__table__)
    values: dict[str, Any] = {
        "count_new": table.c.count_new + bindparam("new"),
        "count_duplicate": table.c.count_duplicate + bindparam("duplicate"),
        "count_updated": table.c.count_updated + bindparam("updated"),
        "count_failed": table.c.count_failed + bindparam("failed"),
    }
    if with_time:
        values["last_new_item_at"] = bindparam("now", type_=table.c.last_new_item_at.type)
    return update(table).where(table.c.id == bindparam("source")).values(**values)
