"""The fast path of search: a tantivy index beside the database, which stays the truth.

Measured at 1M items (docs/search.md, ``bench/search.py``), the database's own full-text
indexes (SQLite FTS5, PostgreSQL GIN) answer a common two-character query several times
slower than tantivy on the same bigrams, because they must join every candidate to its row
to check the substring and to count. tantivy keeps the bigrams with their positions, so a
query of n characters is an exact phrase of its n-1 bigrams: no substring check, and the
total is counted exactly by the index.

The index follows the database through a change log: triggers on ``mention`` write the id
of every listed row that is inserted, changed in what search sees (text, time, source,
status, near-duplicate group) or deleted into ``mention_fts_change``, in the same transaction
as the change, whoever makes it. ``catch_up`` applies the logged ids (it reads each row as
stored now: add, replace or remove), commits the index, then deletes the log rows it
applied. A crash at any point leaves the log rows in place and they are applied again
(applying is idempotent), so after kill -9 the index catches up without losing a committed
item. ``search`` catches up before it answers, so it never misses a committed item.

The index lives in ``<data_dir>/search_index/<token>``, the token being a random value
stored in the database (``mention_fts_meta``): a different or recreated database never
reads another's index. ``rebuild`` builds the index again from the database.
"""

from __future__ import annotations

import calendar
import json
import logging
import os
import re
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, cast

import tantivy
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Engine,
    Select,
    bindparam,
    column,
    exists,
    func,
    select,
    table,
    union_all,
)
from sqlalchemy import text as sql
from sqlalchemy.orm import Session

from yuqing.core.database import driver_rows, pg_array
from yuqing.core.settings import get_settings
from yuqing.mentions.models import Mention

log = logging.getLogger(__name__)

_HAN = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_TERM = re.compile(rf"[{_HAN}]{{2,}}")
_RUNS = re.compile(rf"([{_HAN}]+)|([0-9a-z\u00c0-\u024f]+)")

# Columns whose change a search sees. The log keeps ids only: catch-up reads the row.
_WATCHED = ("status", "near_group_id", "search_text", "published_at", "source_id")
_CHANGED_SQLITE = " OR ".join(f"old.{c} IS NOT new.{c}" for c in _WATCHED)
_CHANGED_POSTGRES = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in _WATCHED)

CHANGE_LOG_SQLITE = (
    "CREATE TABLE IF NOT EXISTS mention_fts_change ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, mention_id INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mention_fts_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TRIGGER IF NOT EXISTS mention_fts_change_insert AFTER INSERT ON mention "
    "WHEN new.status = 'new' BEGIN "
    "INSERT INTO mention_fts_change(mention_id) VALUES (new.id); END",
    "CREATE TRIGGER IF NOT EXISTS mention_fts_change_update AFTER UPDATE OF "
    + ", ".join(_WATCHED)
    + " ON mention WHEN (old.status = 'new' OR new.status = 'new') AND ("
    + _CHANGED_SQLITE
    + ") BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (new.id); END",
    "CREATE TRIGGER IF NOT EXISTS mention_fts_change_delete AFTER DELETE ON mention "
    "WHEN old.status = 'new' BEGIN "
    "INSERT INTO mention_fts_change(mention_id) VALUES (old.id); END",
)
CHANGE_LOG_SQLITE_DROP = (
    "DROP TRIGGER IF EXISTS mention_fts_change_insert",
    "DROP TRIGGER IF EXISTS mention_fts_change_update",
    "DROP TRIGGER IF EXISTS mention_fts_change_delete",
    "DROP TABLE IF EXISTS mention_fts_change",
    "DROP TABLE IF EXISTS mention_fts_meta",
)
# Inserts and deletes are logged once per statement from the transition table (a batch of
# 100 rows costs one INSERT … SELECT); updates name their columns, so they go row by row.
CHANGE_LOG_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS mention_fts_change ("
    " seq BIGSERIAL PRIMARY KEY, mention_id BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS mention_fts_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE OR REPLACE FUNCTION mention_fts_change_rows() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN "
    "IF TG_OP = 'INSERT' THEN "
    "INSERT INTO mention_fts_change(mention_id) SELECT id FROM changed WHERE status = 'new'; "
    "ELSE "
    "INSERT INTO mention_fts_change(mention_id) SELECT id FROM gone WHERE status = 'new'; "
    "END IF; RETURN NULL; END $$",
    "CREATE OR REPLACE FUNCTION mention_fts_change_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN INSERT INTO mention_fts_change(mention_id) VALUES (NEW.id); RETURN NULL; END $$",
    "CREATE OR REPLACE TRIGGER mention_fts_change_insert AFTER INSERT ON mention "
    "REFERENCING NEW TABLE AS changed FOR EACH STATEMENT EXECUTE FUNCTION mention_fts_change_rows()",
    "CREATE OR REPLACE TRIGGER mention_fts_change_delete AFTER DELETE ON mention "
    "REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION mention_fts_change_rows()",
    "CREATE OR REPLACE TRIGGER mention_fts_change_update AFTER UPDATE OF "
    + ", ".join(_WATCHED)
    + " ON mention FOR EACH ROW WHEN ((OLD.status = 'new' OR NEW.status = 'new') AND ("
    + _CHANGED_POSTGRES
    + ")) EXECUTE FUNCTION mention_fts_change_row()",
)

BATCH = 5_000
"""Log rows applied per index commit."""
WRITER_HEAP = 64_000_000
"""Memory of the index writer: more means fewer, larger segments while rebuilding."""
LOCK_WAIT_SECONDS = 60.0
"""How long catch-up waits for another process's writer (a rebuild can hold it)."""
SYNC_BUILD_LIMIT = 100_000
"""Listed rows up to which a search builds a missing index itself (a few seconds); above
it the search answers from the database until ``yuqing search rebuild`` or the runner has
built it."""
_ID_MASK = (1 << 31) - 1
_KEY_SHIFT = 31


_root: tuple[object, Path | None] = (None, None)


def index_root() -> Path | None:
    """Where indexes live, or None when the deployment searches the database only."""
    global _root
    settings = get_settings()
    if _root[0] is settings:  # kept per settings object: every search asks
        return _root[1]
    setting = settings.search_index
    if setting == "off":
        root = None
    else:
        root = Path(setting) if setting else settings.data_dir / "search_index"
    _root = (settings, root)
    return root


# ---------------------------------------------------------------------------- documents


def _schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    # (published second << 31) | id: the order of a page, as the database path orders it.
    builder.add_integer_field("key", indexed=True, fast=True)
    builder.add_integer_field("id", indexed=True)
    builder.add_integer_field("source", indexed=True)
    builder.add_integer_field("at", fast=True)  # microseconds since 1970 (time filters)
    # Bigrams and single characters with their positions, split on spaces.
    builder.add_text_field("body", tokenizer_name="whitespace", index_option="position")
    return builder.build()


def positioned_tokens(form: str) -> str:
    """The indexed text of a search form: each run of Han characters as its overlapping
    bigrams then its last character, Latin words and numbers whole, space-separated.

    A bigram is followed at the next position only by the bigram that overlaps it in the
    same run (the run's last character ends it), so a phrase of a query's bigrams matches
    exactly where the query is a substring."""
    tokens: list[str] = []
    for han, other in _RUNS.findall(form):
        if han:
            tokens.extend(map(str.__add__, han[:-1], han[1:]))
            tokens.append(han[-1])
        else:
            tokens.append(other)
    return " ".join(tokens)


def _seconds(moment: datetime) -> int:
    return calendar.timegm(moment.timetuple())


def _micros(moment: datetime) -> int:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return _seconds(moment) * 1_000_000 + moment.microsecond


def time_key(mention_id: int, published_at: datetime) -> int:
    """The order of a hit: whole second, then id (as ``search._time_key`` for FTS5)."""
    return (max(0, _seconds(published_at)) << _KEY_SHIFT) | mention_id


def _document(row: Any) -> tantivy.Document:
    mention_id, source_id, published_at, form = row
    if mention_id > _ID_MASK:
        raise OverflowError(f"信息编号 {mention_id} 超出全文索引的范围")
    return tantivy.Document(
        key=time_key(mention_id, published_at),
        id=mention_id,
        source=source_id,
        at=_micros(published_at),
        body=positioned_tokens(form or ""),
    )


# Rows by id, listed or not (``_listed`` keeps the listed ones): with the listing test in
# the statement, SQLite (no statistics) walked the stream index over every listed row, for
# an id list and for an id range alike (sorting them all by id for each batch of a
# rebuild), instead of reading the rows by id.
_ROWS = select(
    Mention.id,
    Mention.source_id,
    Mention.published_at,
    Mention.search_text,
    Mention.status,
    Mention.near_group_id,
)
_BY_ID = _ROWS.where(Mention.id.in_(bindparam("ids", expanding=True)))


def _listed(rows: Iterable[Any]) -> list[tuple[int, int, datetime, str | None]]:
    """The listed rows of a ``_ROWS`` read: id, source, time and search form."""
    return [
        (mention_id, source_id, published_at, form)
        for mention_id, source_id, published_at, form, status, group in rows
        if status == "new" and group is None
    ]


def _listed_by_id(
    connection: Connection, ids: Sequence[int], terms: Sequence[str] = ()
) -> list[tuple[int, int, datetime, str | None]]:
    """The listed rows of ``ids`` (id, source, time, search form), those whose search form
    holds every one of ``terms`` (substrings) when given.

    On PostgreSQL on the driver's cursor, the ids as one array literal and the terms tested
    by the server: with an expanding ``IN``, 5,000 logged ids were 5,000 parameters of a
    statement text made anew for every count, and a search under ingest read every logged
    row's text to keep the few that hold its words."""
    if connection.dialect.name != "postgresql":
        rows = _listed(connection.execute(_BY_ID, {"ids": list(ids)}))
        return [row for row in rows if all(term in (row[3] or "") for term in terms)]
    holds_terms = " AND strpos(search_text, %s) > 0" * len(terms)
    statement = (
        "SELECT id, source_id, published_at, search_text, status, near_group_id"
        f" FROM mention WHERE id = ANY(CAST(%s AS BIGINT[])){holds_terms}"
    )
    return _listed(driver_rows(connection, statement, (pg_array(ids), *terms)))


# ---------------------------------------------------------------------------- the index


@dataclass
class _Handle:
    """One open index directory, shared by the threads of a process."""

    path: Path
    index: tantivy.Index
    lock: threading.Lock = field(default_factory=threading.Lock)
    meta: bytes = b""
    meta_file: str = ""

    def __post_init__(self) -> None:
        self.meta_file = str(self.path / "meta.json")

    @property
    def ready(self) -> bool:
        """Built completely once (a crash mid-build leaves no marker)."""
        return (self.path / "ready.json").exists()

    def fresh_searcher(self) -> tantivy.Searcher | None:
        """A searcher that sees the last commit, whichever process made it; None when the
        index is gone or not completely built. The commit's meta.json is compared whole (it
        names the commit's opstamp): two commits within one tick of the file clock have the
        same modification time."""
        found = self.searcher_and_meta()
        return found[0] if found is not None else None

    def searcher_and_meta(self) -> tuple[tantivy.Searcher, bytes] | None:
        """A fresh searcher and the meta.json it sees at least (``fresh_searcher``)."""
        meta = self.read_meta()
        if meta is None:
            return None
        if meta != self.meta:
            if not self.ready:
                return None
            self.index.reload()
            self.meta = meta
        return self.index.searcher(), meta

    def read_meta(self) -> bytes | None:
        """The last commit's meta.json, whole; None when the index is gone."""
        try:
            with open(self.meta_file, "rb") as handle:
                return handle.read()
        except FileNotFoundError:
            return None


_handles: dict[Path, _Handle] = {}
_handles_lock = threading.Lock()
_MAX_HANDLES = 4


def _open(path: Path) -> _Handle:
    with _handles_lock:
        handle = _handles.get(path)
        if handle is not None and path.exists():
            return handle
        path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(_schema(), path=str(path), reuse=True)
        index.config_reader(reload_policy="manual")
        handle = _Handle(path=path, index=index)
        while len(_handles) >= _MAX_HANDLES:
            _handles.pop(next(iter(_handles)))
        _handles[path] = handle
        return handle


_tokens: dict[Engine, str] = {}


def _token(engine: Engine, *, fresh: bool) -> str:
    """The database's index token, made once (it names the index directory). Writers read
    it afresh each time: two processes that disagreed on it would feed two indexes from
    one log, each deleting what the other never saw. A search keeps it and checks it in
    its one query of the log (``_pending_ids``)."""
    token = _tokens.get(engine)
    if token is not None and not fresh:
        return token
    query = sql("SELECT value FROM mention_fts_meta WHERE name = 'token'")
    with engine.connect() as connection:
        found = connection.execute(query).scalar()
        if found is None:
            connection.execute(
                sql(
                    "INSERT INTO mention_fts_meta(name, value) VALUES ('token', :v) "
                    "ON CONFLICT (name) DO NOTHING"
                ),
                {"v": uuid.uuid4().hex},
            )
            connection.commit()
            found = connection.execute(query).scalar_one()
        connection.rollback()
    _tokens[engine] = token = str(found)
    return token


def _handle_for(engine: Engine, root: Path, *, fresh: bool = True) -> _Handle:
    return _open(root / _token(engine, fresh=fresh))


@contextmanager
def _writer(handle: _Handle) -> Iterator[tantivy.IndexWriter]:
    """The index's only writer; another process holding it is waited for."""
    waited = 0.0
    while True:
        try:
            writer = handle.index.writer(heap_size=WRITER_HEAP, num_threads=1)
            break
        except ValueError:
            if waited >= LOCK_WAIT_SECONDS:
                raise
            time.sleep(0.05)
            waited += 0.05
    with writer:  # leaving it releases the lock
        try:
            yield writer
        except BaseException:
            writer.rollback()
            raise


def _chunks(values: Sequence[int], size: int) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _forget(engine: Engine, seqs: Sequence[int]) -> None:
    """Delete applied log rows. On SQLite a writer holding the lock is not waited for: the
    rows stay and are applied again next time, which changes nothing."""
    postgres = engine.dialect.name == "postgresql"
    if postgres:  # one array literal, not 5,000 parameters
        statement = sql("DELETE FROM mention_fts_change WHERE seq = ANY(CAST(:seqs AS BIGINT[]))")
    else:
        statement = sql("DELETE FROM mention_fts_change WHERE seq IN :seqs").bindparams(
            bindparam("seqs", expanding=True)
        )
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql("PRAGMA busy_timeout=200")
        try:
            for part in _chunks(seqs, 5_000):
                connection.execute(statement, {"seqs": pg_array(part) if postgres else list(part)})
            connection.commit()
        except Exception as error:  # the lock was busy: harmless, see above
            connection.rollback()
            log.info("search index: change log kept for later (%s)", error)
        finally:
            if connection.dialect.name == "sqlite":
                connection.exec_driver_sql("PRAGMA busy_timeout=15000")
    if engine.dialect.name == "postgresql":
        # Every search reads the log: on PostgreSQL deleted rows stay in the table until a
        # vacuum, and a scan of 780,000 of them took 24 ms (autovacuum comes a minute later).
        # Without giving the empty pages at the end back (TRUNCATE false): that needs the
        # table's exclusive lock, which a vacuum waits for in 50 ms steps while the writers
        # insert; it took 92 ms a vacuum in bench/soak.py, a fifth of the database's time.
        # New rows reuse the pages.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("VACUUM (TRUNCATE false) mention_fts_change")


def _apply(handle: _Handle, engine: Engine) -> int:
    """Apply the change log in batches; returns the number of ids applied."""
    done = 0
    while True:
        with engine.connect() as connection:
            logged = connection.execute(
                sql("SELECT seq, mention_id FROM mention_fts_change ORDER BY seq LIMIT :n"),
                {"n": BATCH},
            ).all()
            if not logged:
                return done
            ids = sorted({row[1] for row in logged})
            rows = _listed_by_id(connection, ids)
            connection.rollback()
        with _writer(handle) as writer:
            for mention_id in ids:
                writer.delete_documents_by_term("id", mention_id)
            for row in rows:
                writer.add_document(_document(row))
            writer.commit()
        handle.index.reload()
        _forget(engine, [row[0] for row in logged])
        done += len(ids)
        if len(logged) < BATCH:
            return done


def _listed_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sql("SELECT count(*) FROM mention WHERE status = 'new' AND near_group_id IS NULL")
            ).scalar_one()
        )


def _build(handle: _Handle, engine: Engine, *, batch: int = 20_000) -> int:
    """Index every listed mention again. Log rows visible before the rows are read are
    reflected in what is read, so exactly those are deleted afterwards."""
    (handle.path / "ready.json").unlink(missing_ok=True)
    with engine.connect() as connection:
        seqs = list(connection.scalars(sql("SELECT seq FROM mention_fts_change ORDER BY seq")))
        connection.rollback()
    done, last = 0, 0
    with _writer(handle) as writer:
        writer.delete_all_documents()
        while True:
            with engine.connect() as connection:
                rows = connection.execute(
                    _ROWS.where(Mention.id > last).order_by(Mention.id).limit(batch)
                ).all()
                connection.rollback()
            if not rows:
                break
            listed = _listed(rows)
            for row in listed:
                writer.add_document(_document(row))
            done, last = done + len(listed), rows[-1][0]
        writer.commit()
        writer.wait_merging_threads()
    handle.index.reload()
    _forget(engine, seqs)
    (handle.path / "ready.json").write_text(
        json.dumps({"built": datetime.now(UTC).isoformat(), "mentions": done}), encoding="utf-8"
    )
    return done


def catch_up(engine: Engine, *, build: bool = True) -> int | None:
    """Bring the index up to the database's committed state; returns the ids applied, or
    None when there is no index (search is set to the database only, or the index is
    missing and ``build`` is false).

    Cheap when nothing changed (one query of the log). The lead's after-commit point and
    the runner call this; ``catch_up_soon`` does it on a background thread."""
    root = index_root()
    if root is None:
        return None
    handle = _handle_for(engine, root)
    with handle.lock:
        if not handle.ready:
            if not build:
                return None
            return _build(handle, engine)
        return _apply(handle, engine)


def rebuild(engine: Engine) -> int:
    """Build the index again from the database (a lost, damaged or doubted index); returns
    the number of listed mentions indexed. Other indexes of this database's data folder
    (left by a database that was recreated) are removed."""
    root = index_root()
    if root is None:
        raise RuntimeError("全文索引已关闭（YUQING_SEARCH_INDEX=off）")
    handle = _handle_for(engine, root)
    with handle.lock:
        count = _build(handle, engine)
    for other in root.iterdir():
        if other.is_dir() and other != handle.path:
            shutil.rmtree(other, ignore_errors=True)
    return count


_soon_lock = threading.Lock()
_soon_wanted: set[Engine] = set()
_soon_running: set[Engine] = set()


def catch_up_soon(engine: Engine) -> None:
    """Ask for a catch-up on a background thread and return at once: calls during a
    running catch-up are folded into one more run. For the pipeline's after-commit point."""
    with _soon_lock:
        _soon_wanted.add(engine)
        if engine in _soon_running:
            return
        _soon_running.add(engine)
    threading.Thread(target=_run_soon, args=(engine,), daemon=True, name="search-index").start()


def _run_soon(engine: Engine) -> None:
    while True:
        with _soon_lock:
            if engine not in _soon_wanted:
                _soon_running.discard(engine)
                return
            _soon_wanted.discard(engine)
        try:
            catch_up(engine)
        except Exception:  # logged; the next call or the search itself catches up
            log.exception("search index catch-up failed")


def index_path(engine: Engine) -> Path:
    """The directory of this database's index (which may not be built yet)."""
    root = index_root()
    if root is None:
        raise RuntimeError("全文索引已关闭（YUQING_SEARCH_INDEX=off）")
    return _handle_for(engine, root).path


def index_size(engine: Engine) -> int | None:
    """Bytes on disk of this database's index, or None without one."""
    if index_root() is None:
        return None
    path = index_path(engine)
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


# ---------------------------------------------------------------------------- searching


@dataclass(frozen=True)
class IndexQuery:
    """What the index can answer exactly: Han terms of two or more characters (AND), a
    time range and sources."""

    terms: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    source_ids: tuple[int, ...] | None = None


def answerable(terms: Iterable[str]) -> bool:
    """Whether every term is a run of at least two Han characters (phrases of bigrams are
    then exact); other queries go to the database path, which checks substrings."""
    return all(_HAN_TERM.fullmatch(term) for term in terms)


def _text_query(schema: tantivy.Schema, term: str) -> tantivy.Query:
    bigrams: list[str | tuple[int, str]] = [term[i : i + 2] for i in range(len(term) - 1)]
    if len(bigrams) == 1:
        return tantivy.Query.term_query(schema, "body", bigrams[0])
    return tantivy.Query.phrase_query(schema, "body", bigrams)


def _query(schema: tantivy.Schema, wanted: IndexQuery) -> tantivy.Query:
    parts = [_text_query(schema, term) for term in wanted.terms]
    if wanted.start is not None or wanted.end is not None:
        parts.append(
            tantivy.Query.range_query(
                schema,
                "at",
                tantivy.FieldType.Integer,
                lower_bound=_micros(wanted.start) if wanted.start else -(2**62),
                upper_bound=(_micros(wanted.end) - 1) if wanted.end else 2**62,
            )
        )
    if wanted.source_ids is not None:
        parts.append(tantivy.Query.term_set_query(schema, "source", list(wanted.source_ids)))
    if len(parts) == 1:
        return parts[0]
    return tantivy.Query.boolean_query([(tantivy.Occur.Must, part) for part in parts])


PENDING_LIMIT = 5_000
"""Logged changes a search merges in itself; past this it answers from the database and
asks for a catch-up (the runner and the after-commit call keep the log short)."""


def _writing(session: Session) -> bool:
    """Whether the session's SQLite connection holds the write lock (uncommitted writes):
    another connection's write would wait for it."""
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return False
    raw = connection.connection.dbapi_connection
    return bool(raw is not None and getattr(raw, "in_transaction", False))


PENDING_QUIET = 1_000
"""Logged changes past which a search asks for a background catch-up."""


class _TokenChanged(Exception):
    """The database's token is not the one this process keeps (the database was
    recreated or restored): the index read would be another database's."""


def _pending_ids(session: Session, token: str) -> list[int] | None:
    """Ids of the change log as the session sees it (its own uncommitted changes too);
    None when there are more than ``PENDING_LIMIT``. The same query checks the token:
    it yields -1 when the database's token is not ``token``."""
    if not re.fullmatch(r"[0-9a-f]{32}", token):
        raise _TokenChanged(token)
    # The driver's own cursor: this runs before every search, and SQLAlchemy's execution
    # and result machinery cost more than the query itself.
    # The log is read in the order of its key, so PostgreSQL walks its primary key rather
    # than the table: the vacuum after each catch-up leaves emptied pages in place
    # (``_forget``), and after a build or a bulk load the table keeps those of every row
    # once logged (34 MB after a build at 1M items: a scan of them took 6 ms warm and 43 ms
    # cold on every search, the index 0.02 ms, since the vacuum takes emptied index pages
    # out of the tree).
    logged = driver_rows(
        session.connection(),
        "SELECT -1 WHERE NOT EXISTS (SELECT 1 FROM mention_fts_meta"
        f" WHERE name = 'token' AND value = '{token}')"
        " UNION ALL SELECT mention_id FROM (SELECT mention_id FROM mention_fts_change"
        f" ORDER BY seq LIMIT {PENDING_LIMIT + 2}) AS logged",
    )
    ids = sorted({row[0] for row in logged})
    if ids and ids[0] == -1:
        raise _TokenChanged(token)
    return None if len(ids) > PENDING_LIMIT else ids


def _pending_hits(session: Session, wanted: IndexQuery, ids: list[int]) -> list[int]:
    """Time keys of the logged rows that match, read from the rows as the session sees
    them: the same test as the index (listed, every term a substring, time, source)."""
    if not ids:
        return []
    rows = _listed_by_id(session.connection(), ids, wanted.terms)
    return [key for row in rows if (key := _hit_key(wanted, *row)) is not None]


def _hit_key(
    wanted: IndexQuery, mention_id: int, source_id: int, published_at: datetime, form: str | None
) -> int | None:
    """The time key of a listed row that matches ``wanted`` (every term a substring of its
    search form, time, source), else None: the index's test, on the stored row."""
    if not all(term in (form or "") for term in wanted.terms):
        return None
    at = _micros(published_at)
    if (wanted.start is not None and at < _micros(wanted.start)) or (
        wanted.end is not None and at >= _micros(wanted.end)
    ):
        return None
    if wanted.source_ids is not None and source_id not in wanted.source_ids:
        return None
    return time_key(mention_id, published_at)


_ready: dict[tuple[Engine, Path], _Handle] = {}


def _prepare(session: Session, engine: Engine, root: Path) -> _Handle | None:
    """The index of the session's database, built first when it is missing and small;
    None when the database must answer meanwhile."""
    _ready.pop((engine, root), None)
    if engine not in _tokens and _writing(session):
        return None  # making the token would wait for this session's own write lock
    handle = _handle_for(engine, root, fresh=False)
    if not handle.ready:
        if _writing(session):
            return None  # as above: a build deletes log rows
        if _listed_count(engine) > SYNC_BUILD_LIMIT:
            catch_up_soon(engine)
            return None
        catch_up(engine)
        handle = _handle_for(engine, root, fresh=False)
        if not handle.ready:
            return None
    _ready[(engine, root)] = handle
    return handle


_SEARCH_THREADS = 4
_searches: tuple[int, ThreadPoolExecutor] | None = None
_searches_lock = threading.Lock()


def _search_pool() -> ThreadPoolExecutor:
    """Where tantivy answers while the request's thread waits for the change log
    (PostgreSQL, ``find``): tantivy gives the GIL up while it searches, the driver while it
    waits for the server, so the two overlap. One pool per process: a forked child (a
    Celery worker) inherits the pool but not its threads, so it makes its own."""
    global _searches
    known = _searches
    if known is not None and known[0] == os.getpid():
        return known[1]
    with _searches_lock:
        if _searches is None or _searches[0] != os.getpid():
            made = ThreadPoolExecutor(_SEARCH_THREADS, thread_name_prefix="search-index")
            _searches = (os.getpid(), made)
        return _searches[1]


_logging: dict[Engine, bool] = {}
"""Whether the last search of each database found changes waiting in the log."""


def _search(searcher: tantivy.Searcher, query: tantivy.Query, limit: int) -> tuple[list[int], int]:
    """Time keys of the first ``limit`` hits, newest first, and the exact total."""
    result = searcher.search(
        query, limit=limit, count=True, order_by_field="key", order=tantivy.Order.Desc
    )
    total = cast(Any, result).count  # exact (count=True); missing from the type stubs
    return [int(key) for key, _ in result.hits], int(total)


def find(
    session: Session, wanted: IndexQuery, *, limit: int, offset: int
) -> tuple[list[int], int] | None:
    """Ids of a page, newest first, and the exact total, as the session sees the database;
    None when the index cannot answer (none yet, or too many changes not yet applied).

    The search never writes: rows in the change log (committed but not yet applied, or the
    session's own uncommitted changes) are left out of the index's answer and tested on
    their stored rows instead, and the two are merged in time order.

    On SQLite the log is read first, then a searcher is taken: a catch-up commits the index
    before it deletes the log rows, so whatever left the log is in a searcher made
    afterwards. On PostgreSQL reading the log is a round trip to the server, longer than
    most of tantivy's answers, so tantivy searches meanwhile on another thread; the order is
    then checked as ``find_page`` does (the index's meta.json read again after the log: a
    change means a catch-up committed meanwhile, and the search runs again)."""
    if wanted.source_ids is not None:
        # A source id past 64 bits names no source (the index field is a signed 64-bit one).
        fitting = tuple(i for i in wanted.source_ids if -(2**63) <= i < 2**63)
        if not fitting:
            return [], 0
        wanted = replace(wanted, source_ids=fitting)
    root = index_root()
    if root is None:
        return None
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    # Under ingest the log is rarely empty, and tantivy would search twice (once while the
    # log is read, again without the logged ids): then the log is read first, as on SQLite.
    overlapped = engine.dialect.name == "postgresql" and not _logging.get(engine, False)
    found: tuple[list[int], int] | None = None
    for _ in range(3):
        handle = _ready.get((engine, root)) or _prepare(session, engine, root)
        if handle is None:
            return None
        query = _query(handle.index.schema, wanted)
        made = handle.searcher_and_meta() if overlapped else None
        searching = None
        if made is not None:
            searching = _search_pool().submit(_search, made[0], query, limit + offset)
        try:
            pending = _pending_ids(session, _tokens[engine])
            _logging[engine] = pending is None or bool(pending)
        except (_TokenChanged, KeyError):
            _tokens.pop(engine, None)  # the next search opens this database's own index
            _ready.pop((engine, root), None)
            return None
        if overlapped:
            if made is None or searching is None:
                _ready.pop((engine, root), None)  # deleted or being rebuilt: prepare it again
                continue
            searcher, meta = made
            found = searching.result()
            if handle.read_meta() != meta:
                continue  # a catch-up committed while the log was read: search again
            break
        fresh = handle.fresh_searcher()
        if fresh is not None:
            searcher = fresh
            break
        _ready.pop((engine, root), None)  # deleted or being rebuilt: prepare it again
    else:
        return None
    if pending is None or len(pending) > PENDING_QUIET:
        catch_up_soon(engine)  # nobody else keeps the log short: do it in the background
    if pending is None:
        return None
    if pending or found is None:
        if pending:
            stale = tantivy.Query.term_set_query(handle.index.schema, "id", pending)
            query = tantivy.Query.boolean_query(
                [(tantivy.Occur.Must, query), (tantivy.Occur.MustNot, stale)]
            )
        found = _search(searcher, query, limit + offset)
    keys, total = found
    extra = _pending_hits(session, wanted, pending)
    if extra:
        keys = sorted([*keys, *extra], reverse=True)
    page = [key & _ID_MASK for key in keys[offset : offset + limit]]
    return page, total + len(extra)


# ---------------------------------------------------------------------------- a page at once

PAGE_PENDING = 200
"""Logged changes whose rows ride along in the statement of a page (``find_page``); with
more, the page is put together as ``find`` does."""

_CHANGE = table("mention_fts_change", column("seq"), column("mention_id"))
_META = table("mention_fts_meta", column("name"), column("value"))


@dataclass
class FoundPage:
    """A page of hits with its rows: ids newest first, the exact total, the rows by id."""

    ids: list[int]
    total: int
    rows: dict[int, Mention]


def find_page(session: Session, wanted: IndexQuery, *, limit: int, offset: int) -> FoundPage | None:
    """``find`` and the page's rows in one round trip to the database (PostgreSQL): tantivy
    answers first, then one statement reads the change log (and the token) together with
    the rows of the page and of the logged ids, as the session sees them; None when the
    index cannot answer.

    ``find`` reads the log before it takes a searcher: whatever left the log (a catch-up
    commits the index, then deletes the rows it applied) is in a searcher made afterwards.
    Here the searcher comes first, so the order is checked instead: the index's meta.json
    (which every commit rewrites) is read again after the statement, and when it changed —
    a catch-up committed while the page was read — the page is read again. An unchanged
    meta.json means every log row deleted before the statement's snapshot was applied by a
    commit the searcher already sees, so no committed item is missed."""
    root = index_root()
    engine = session.get_bind()
    if root is None or not isinstance(engine, Engine) or engine.dialect.name != "postgresql":
        return None
    if wanted.source_ids is not None and not all(-(2**63) <= i < 2**63 for i in wanted.source_ids):
        return None  # find() sorts those out
    for _ in range(3):
        handle = _ready.get((engine, root)) or _prepare(session, engine, root)
        token = _tokens.get(engine)
        if handle is None or token is None:
            return None
        made = handle.searcher_and_meta()
        if made is None:
            _ready.pop((engine, root), None)
            continue
        searcher, meta = made
        query = _query(handle.index.schema, wanted)
        result = searcher.search(
            query, limit=limit + offset, count=True, order_by_field="key", order=tantivy.Order.Desc
        )
        keys = [int(key) for key, _ in result.hits]
        page = [key & _ID_MASK for key in keys[offset : offset + limit]]
        read = _page_and_log(session, token, page)
        if read is None:  # another database's index: the next search opens its own
            _tokens.pop(engine, None)
            _ready.pop((engine, root), None)
            return None
        rows, pending = read
        if handle.read_meta() != meta:
            continue  # a catch-up committed meanwhile: read the page again
        if pending is None:
            return None  # many changes waiting: find() and a separate read of the rows
        if not pending:
            return FoundPage(page, int(cast(Any, result).count), rows)
        schema = handle.index.schema
        return _merge_pending(session, searcher, schema, wanted, rows, pending, limit, offset)
    return None


@cache
def _page_statement() -> Select[Any]:
    """The statement of ``_page_and_log``, built once (building it took about a tenth of a
    page's time): parameters ``token``, ``page``, ``few`` (``PAGE_PENDING``) and ``more``
    (one past it)."""
    # More than PAGE_PENDING logged rows send the page to find(), so no more are read: the
    # array rides along on every row of the result (5,001 ids on ~220 rows: a quarter of the
    # request threads' time with 5 readers and 1,000 pushed items/s on PostgreSQL).
    # In the order of the log's key, through its index (see ``_pending_ids``).
    by_key = select(_CHANGE.c.mention_id).order_by(_CHANGE.c.seq)
    logged = by_key.limit(bindparam("more")).subquery()
    log_row = select(
        select(func.array_agg(logged.c.mention_id)).scalar_subquery().label("ids"),
        exists().where(_META.c.name == "token", _META.c.value == bindparam("token")).label("known"),
    ).subquery()
    # The logged rows ride along only when they are few: with more the page goes to find(),
    # and 200 full rows read for nothing were most of a search's time under ingest.
    few = select(func.count()).select_from(logged).scalar_subquery() <= bindparam("few")
    # The ids as one set (an OR of two IN lists made PostgreSQL scan every mention).
    wanted = union_all(
        select(func.unnest(bindparam("page", type_=ARRAY(BigInteger)))),
        by_key.where(few).limit(bindparam("few")),
    )
    return (
        select(log_row.c.ids, log_row.c.known, Mention)
        .select_from(log_row)
        .outerjoin(Mention, Mention.id.in_(wanted))
    )


def _page_and_log(
    session: Session, token: str, page: list[int]
) -> tuple[dict[int, Mention], list[int] | None] | None:
    """One statement: the rows of ``page`` and of the logged ids when there are at most
    ``PAGE_PENDING``, the logged ids (None past ``PAGE_PENDING``) and whether the
    database's token is ``token`` (None when not)."""
    statement = _page_statement()
    rows: dict[int, Mention] = {}
    logged_ids: list[int] = []
    for ids, known, mention in session.execute(
        statement, {"token": token, "page": page, "few": PAGE_PENDING, "more": PAGE_PENDING + 1}
    ):
        if not known:
            return None
        logged_ids = ids or []
        if mention is not None:
            rows[mention.id] = mention
    if len(logged_ids) > PAGE_PENDING:
        # Not every logged row rode along (an id can be logged many times, so the count
        # of rows decides): find() and a separate read of the rows put the page together.
        return rows, None
    return rows, sorted(set(logged_ids))


def _merge_pending(
    session: Session,
    searcher: tantivy.Searcher,
    schema: tantivy.Schema,
    wanted: IndexQuery,
    rows: dict[int, Mention],
    pending: list[int],
    limit: int,
    offset: int,
) -> FoundPage:
    """The page when the log is not empty: logged ids are left out of tantivy's answer and
    tested on their rows, read in the same statement, as ``find`` does; a row the merged
    page needs beyond those is read afterwards."""
    stale = tantivy.Query.term_set_query(schema, "id", pending)
    query = tantivy.Query.boolean_query(
        [(tantivy.Occur.Must, _query(schema, wanted)), (tantivy.Occur.MustNot, stale)]
    )
    result = searcher.search(
        query, limit=limit + offset, count=True, order_by_field="key", order=tantivy.Order.Desc
    )
    extra = [
        key
        for m in (rows.get(i) for i in pending)
        if m is not None and m.status == "new" and m.near_group_id is None
        if (key := _hit_key(wanted, m.id, m.source_id, m.published_at, m.search_text)) is not None
    ]
    keys = sorted([*(int(key) for key, _ in result.hits), *extra], reverse=True)
    page = [key & _ID_MASK for key in keys[offset : offset + limit]]
    missing = [i for i in page if i not in rows]
    if missing:
        found = session.execute(select(Mention).where(Mention.id.in_(missing))).scalars()
        rows.update((m.id, m) for m in found)
    return FoundPage(page, int(cast(Any, result).count) + len(extra), rows)
