"""Storing collected items: normalise, drop exact duplicates, store once, index for search."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from typing import Any, Protocol, TypeVar, cast

from pydantic import ValidationError
from sqlalchemy import Select, bindparam, func, insert, select, update
from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.orm import Session

from yuqing.core.timeutil import utcnow
from yuqing.mentions import platforms, search
from yuqing.mentions.models import Mention, MentionMark
from yuqing.mentions.normalise import (
    canonical_url,
    clean_text,
    content_hash,
    detect_language,
    html_to_text,
    url_hash,
)
from yuqing.mentions.schemas import MAX_COUNT, IngestResult, ItemIn, ItemOutcome, read_count
from yuqing.sources.models import Source

MAX_TITLE = 500
PUBLISHED_YEARS = range(1900, 2200)
"""Publication years an item may claim; the stages do date arithmetic near the ends of
what a datetime holds, and no monitored post is older or newer."""
MAX_RAW_DEPTH = 64
"""Levels of nesting a ``raw`` payload may have; platform payloads need about ten."""
_MENTION = Mention.__table__
# Fields stored as given (title and text are cleaned of control characters on the way).
_STORED_AS_GIVEN = (
    "external_id",
    "url",
    "canonical_url",
    "author",
    "parent_external_id",
    "root_external_id",
    "language",
    "title",
    "text",
    "raw",
)

log = logging.getLogger(__name__)


ANALYSIS_COLUMNS = (
    "sentiment",
    "sentiment_score",
    "sentiment_model",
    "emotion",
    "risk_score",
    "risk_parts",
    "near_group_id",
    "regions",
)
"""Columns the analysis stages fill before a row is stored."""

Analyse = Callable[[Session, Source, list[dict[str, Any]]], Callable[[list[int]], None] | None]


class Store(Protocol):
    """Something that stores a batch of items of a source: ``ingest`` itself, or the
    pipeline, which is ``ingest`` with the analysis stages."""

    def __call__(
        self, session: Session, *, source: Source, items: Sequence[ItemIn | Mapping[str, Any]]
    ) -> IngestResult: ...


@dataclass
class _Row:
    index: int
    values: dict[str, Any]


@dataclass(frozen=True)
class Unreadable:
    """An item that could not even be read (e.g. JSON nested too deep); it fails alone."""

    reason: str


_PROBLEMS = {
    "string_type": "应为文本",
    "dict_type": "应为 JSON 对象",
    "model_type": "条目必须是 JSON 对象",
    "model_attributes_type": "条目必须是 JSON 对象",
    "datetime_type": "无法识别的时间",
    "datetime_parsing": "无法识别的时间",
    "datetime_from_date_parsing": "无法识别的时间",
    "missing": "缺少此字段",
}


def describe_validation_error(error: ValidationError) -> str:
    """A short Chinese description of the first problems of an item, naming each field."""
    parts = []
    for problem in error.errors()[:3]:
        kind = problem["type"]
        if kind == "string_too_long":
            message = f"过长（最多 {problem.get('ctx', {}).get('max_length')} 个字符）"
        elif kind == "value_error":
            message = problem["msg"].removeprefix("Value error, ")
        else:
            message = _PROBLEMS.get(kind, problem["msg"])
        where = ".".join(str(p) for p in problem["loc"])
        parts.append(f"字段 {where}：{message}" if where else message)
    return "；".join(parts)


def _outcome(
    index: int,
    status: str,
    mention_id: int | None = None,
    duplicate_of: int | None = None,
    error: str | None = None,
) -> ItemOutcome:
    return ItemOutcome(
        index=index, status=status, mention_id=mention_id, duplicate_of=duplicate_of, error=error
    )


def normalise_item(
    item: ItemIn, *, source_id: int, now: Any, source_platform: str | None = None
) -> dict[str, Any]:
    """The row to store for one item; raises ValueError when nothing usable is in it."""
    body = html_to_text(item.html) if item.html else item.text
    body = html_to_text(body) if body and item.html is None and "<" in body else clean_text(body)
    title = clean_text(item.title).replace("\n", " ")[:MAX_TITLE]
    if not title and not body:
        raise ValueError("标题和正文都为空")
    if not title:
        title = body.split("\n", 1)[0][:60]
    if item.published_at is not None and item.published_at.year not in PUBLISHED_YEARS:
        first, last = PUBLISHED_YEARS[0], PUBLISHED_YEARS[-1]
        raise ValueError(f"字段 published_at：发布时间超出范围（{first}–{last} 年）")
    canon = canonical_url(item.url)
    form = search.search_form(title, body)
    return {
        "source_id": source_id,
        "external_id": item.external_id or None,
        "url": item.url,
        "canonical_url": canon,
        "url_hash": url_hash(item.url),
        "title": title,
        "text": body,
        "author": item.author or None,
        "published_at": item.published_at or now,
        "collected_at": now,
        "parent_external_id": item.parent_external_id or None,
        "root_external_id": item.root_external_id or None,
        "language": item.language or detect_language(f"{title}\n{body}", simplified=form),
        "raw": _raw_json(item.raw),
        "status": "new",
        "content_hash": content_hash(title, body),
        "duplicate_of_id": None,
        "duplicate_count": 0,
        "near_count": 0,
        "search_text": form,
        **_spread(item, source_platform),
        **dict.fromkeys(ANALYSIS_COLUMNS),
        "_published_given": item.published_at is not None,
    }


def _spread(item: ItemIn, source_platform: str | None) -> dict[str, Any]:
    """Platform and spread counts of an item: sent as fields, or kept in raw by an import."""
    raw = item.raw or {}
    counts = {
        name: value if value is not None else read_count(raw.get(name))
        for name, value in (
            ("reposts", item.reposts),
            ("comments", item.comments),
            ("likes", item.likes),
        )
    }
    site = raw.get("site") or raw.get("platform")
    return {
        "platform": platforms.platform_of(configured=source_platform, site=site, url=item.url),
        **counts,
        "heat": min(sum(v or 0 for v in counts.values()), MAX_COUNT),
    }


def _raw_json(raw: dict[str, Any] | None) -> str | None:
    """The collector's payload as JSON text; a payload nested deeper than MAX_RAW_DEPTH is
    refused (its serialisation would exhaust the stack, and no platform nests that deep)."""
    if not raw:
        return None
    too_deep = f"字段 raw：嵌套超过 {MAX_RAW_DEPTH} 层，无法保存"
    try:
        text = json.dumps(raw, ensure_ascii=False, default=str)
    except RecursionError:
        raise ValueError(too_deep) from None
    # Fewer brackets than levels allowed cannot nest too deep: most payloads skip the walk.
    if text.count("{") + text.count("[") > MAX_RAW_DEPTH and _nested_deeper(raw, MAX_RAW_DEPTH):
        raise ValueError(too_deep)
    return text


def _nested_deeper(value: dict[str, Any] | list[Any], limit: int) -> bool:
    """Whether ``value`` nests dicts and lists more than ``limit`` levels (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        for child in node.values() if isinstance(node, dict) else node:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))
    return False


def check_storable(values: Mapping[str, Any]) -> None:
    """Raise ValueError naming the field when a text no database can store is in a row: NUL
    (PostgreSQL text refuses it) or a lone surrogate (not encodable as UTF-8)."""
    for name in _STORED_AS_GIVEN:
        value = values[name]
        if not value:
            continue
        if "\x00" in value:
            raise ValueError(f"字段 {name}：含有空字符（\\u0000），无法保存")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValueError(f"字段 {name}：含有无效的 Unicode 字符，无法保存") from None


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


def _validate(
    items: Sequence[ItemIn | Mapping[str, Any]], result: IngestResult
) -> list[tuple[int, ItemIn]]:
    valid: list[tuple[int, ItemIn]] = []
    for index, item in enumerate(items):
        if isinstance(item, ItemIn):
            valid.append((index, item))
            continue
        if isinstance(item, Unreadable):
            result.outcomes.append(_outcome(index=index, status="failed", error=item.reason))
            continue
        try:
            valid.append((index, ItemIn.model_validate(item)))
        except ValidationError as error:
            result.outcomes.append(
                _outcome(index=index, status="failed", error=describe_validation_error(error))
            )
        except (TypeError, ValueError) as error:
            result.outcomes.append(_outcome(index=index, status="failed", error=str(error)))
        except (ArithmeticError, RecursionError) as error:
            reason = describe_item_fault(error) or str(error)
            result.outcomes.append(_outcome(index=index, status="failed", error=reason))
    return valid


def ingest(
    session: Session,
    *,
    source: Source,
    items: Sequence[ItemIn | Mapping[str, Any]],
    update_source_counts: bool = True,
    analyse: Analyse | None = None,
) -> IngestResult:
    """Store a batch of items from one source; the caller commits.

    The same item (same source and external id, or same source and canonical URL) is stored
    once and updated when it changed. A copy of an item already stored from elsewhere (same
    canonical URL, or same normalised title and text) is kept as a ``duplicate`` row linked
    to the first copy, which counts it. Invalid items are reported, the rest is stored.

    ``analyse`` (the pipeline's analysis stages) gets the rows about to be stored or updated
    (originals only: exact copies are not listed), may fill their ``ANALYSIS_COLUMNS``, and
    may return a function that receives the rows' mention ids once they exist, to store
    what links to them (scheme matches, places, similarity keys).
    """
    now = utcnow()
    result = IngestResult()
    rows: list[_Row] = []
    for index, item in _validate(items, result):
        try:
            values = normalise_item(
                item, source_id=source.id, now=now, source_platform=source.platform
            )
            check_storable(values)
            rows.append(_Row(index, values))
        except ValueError as error:
            result.outcomes.append(_outcome(index=index, status="failed", error=str(error)))

    rows = _merge_same_item_in_batch(rows, result)
    existing = _existing_same_items(session, source.id, rows)
    fresh: list[_Row] = []
    changed: list[tuple[_Row, Mapping[str, Any], dict[str, Any]]] = []
    for row in rows:
        published_given = row.values.pop("_published_given")
        current = existing.get(_identity(row.values))
        if current is None:
            fresh.append(row)
            continue
        changes = _changes(row.values, current, published_given=published_given)
        if not changes:
            result.outcomes.append(
                _outcome(index=row.index, status="unchanged", mention_id=current["id"])
            )
            continue
        changed.append((row, current, changes))

    originals, copies = _split_copies(session, fresh)
    finish = None
    if analyse is not None:
        finish = analyse(
            session, source, [r.values for r in originals] + [r.values for r, _, _ in changed]
        )
    reindex: list[tuple[int, str]] = []
    for row, stored, changes in changed:
        if analyse is not None:
            changes.update({k: row.values[k] for k in ANALYSIS_COLUMNS})
        changes["updated_at"] = now
        session.execute(update(Mention).where(Mention.id == stored["id"]).values(**changes))
        if stored["status"] == "new" and "search_text" in changes:
            reindex.append((stored["id"], changes["search_text"]))
        result.outcomes.append(_outcome(index=row.index, status="updated", mention_id=stored["id"]))

    inserted = _insert(session, [row.values for row in originals])
    id_of_position: dict[int, int] = {}
    fresh_index: list[tuple[int, str, datetime]] = []
    for row, mention_id in zip(originals, inserted, strict=True):
        id_of_position[row.index] = mention_id
        fresh_index.append((mention_id, row.values["search_text"], row.values["published_at"]))
        result.outcomes.append(_outcome(index=row.index, status="new", mention_id=mention_id))
    for row, first in copies:
        if first < 0:  # a copy of an original earlier in this batch
            first = id_of_position[-first - 1]
        row.values["duplicate_of_id"] = first
        row.values["status"] = "duplicate"
    copy_ids = _insert(session, [row.values for row, _ in copies])
    bumps: dict[int, int] = {}
    for (row, _), mention_id in zip(copies, copy_ids, strict=True):
        first = row.values["duplicate_of_id"]
        bumps[first] = bumps.get(first, 0) + 1
        result.outcomes.append(
            _outcome(index=row.index, status="duplicate", mention_id=mention_id, duplicate_of=first)
        )
    if bumps:
        session.connection().execute(
            update(Mention)
            .where(Mention.id == bindparam("first_id"))
            .values(duplicate_count=Mention.duplicate_count + bindparam("extra")),
            [{"first_id": first, "extra": extra} for first, extra in bumps.items()],
        )
    search.index_rows(session, reindex)
    search.index_new(session, fresh_index)
    if finish is not None:
        finish(list(inserted) + [stored["id"] for _, stored, _ in changed])

    result.outcomes.sort(key=lambda o: o.index)
    for outcome in result.outcomes:
        setattr(result, outcome.status, getattr(result, outcome.status) + 1)
    if update_source_counts:
        _count_on_source(session, source, result, now)
    return result


StorePart = Callable[[list[Any]], IngestResult]
"""Stores a list of items and commits them, or rolls back and raises."""

MAX_ISOLATED_FAULTS = 8
"""Items of one batch that may fail alone by an error; past this, or when every item fails,
the error is the code's or the database's, not the items': it is raised (a 500 the
collector retries) instead of reporting good items as failed."""


def store_isolating(store_part: StorePart, items: Sequence[Any]) -> IngestResult:
    """Store ``items`` with ``store_part``, so that no single item can take the batch down.

    The whole batch is tried first. When it fails because of what is in it (a value the
    database refuses, a stage that trips over an odd item), it is split in halves, each
    stored on its own, until the item at fault stands alone and fails with its reason; every
    other item is stored. ``Unreadable`` items fail with their reason without being tried.
    Failures of the database itself (connection lost, a lock), and errors that strike every
    item or more than MAX_ISOLATED_FAULTS of them, are raised as they are.
    """
    result = IngestResult()
    readable: list[tuple[int, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, Unreadable):
            result.outcomes.append(_outcome(index=index, status="failed", error=item.reason))
        else:
            readable.append((index, item))
    if not result.outcomes:  # the usual case: one part, indices as they are
        try:
            return store_part(list(items))
        except Exception as error:
            if describe_item_fault(error) is None:
                raise
            _Isolation(store_part, result, len(readable)).split(readable, error)
    else:
        _Isolation(store_part, result, len(readable)).store(readable)
    result.outcomes.sort(key=lambda o: o.index)
    for outcome in result.outcomes:
        setattr(result, outcome.status, getattr(result, outcome.status) + 1)
    return result


@dataclass
class _Isolation:
    """Parts of a batch stored one after another until the items at fault stand alone."""

    store_part: StorePart
    result: IngestResult
    readable: int
    faults: int = 0

    def store(self, part: list[tuple[int, Any]]) -> None:
        if not part:
            return
        try:
            stored = self.store_part([item for _, item in part])
        except Exception as error:
            if describe_item_fault(error) is None:
                raise
            self.split(part, error)
            return
        for outcome in stored.outcomes:
            self.result.outcomes.append(
                outcome.model_copy(update={"index": part[outcome.index][0]})
            )

    def split(self, part: list[tuple[int, Any]], error: Exception) -> None:
        """Store the halves of a part that failed, or fail its one item with the reason."""
        if len(part) > 1:
            middle = len(part) // 2
            self.store(part[:middle])
            self.store(part[middle:])
            return
        self.faults += 1
        if self.faults > MAX_ISOLATED_FAULTS or self.faults == self.readable:
            raise error
        log.warning("item %s refused: %r", part[0][0], error)
        reason = describe_item_fault(error) or "无法保存"
        self.result.outcomes.append(_outcome(index=part[0][0], status="failed", error=reason))


def describe_item_fault(error: BaseException) -> str | None:
    """Why one item could not be stored, in Chinese; None when the failure is not the item's
    (the database is unreachable or locked, a concurrent writer won a race)."""
    if isinstance(error, OperationalError | InterfaceError | IntegrityError):
        return None
    if isinstance(error, StatementError) and not isinstance(error, DBAPIError):
        # An error while binding the parameters (SQLAlchemy wraps it): the item's own value.
        return describe_item_fault(error.orig) if isinstance(error.orig, Exception) else None
    if isinstance(error, DataError):
        detail = str(error.orig).split("\n", 1)[0]
        if "NUL" in detail:
            return "含有空字符（\\u0000），数据库无法保存"
        return f"数据库无法保存此条目：{detail[:200]}"
    if isinstance(error, RecursionError):
        return "嵌套过深，无法处理"
    if isinstance(error, UnicodeError):
        return "含有无效的 Unicode 字符，无法保存"
    if isinstance(error, ArithmeticError):
        return "数值或时间超出范围，无法保存"
    if isinstance(error, ValueError):
        return f"无法处理此条目：{error}"[:300]
    return None  # TypeError, IndexError…: a bug in the code, whatever the item


def _changes(
    values: dict[str, Any], current: Mapping[str, Any], *, published_given: bool
) -> dict[str, Any]:
    """Fields of a stored item that a new copy changes; a new raw payload alone is no change,
    nor is a missing publication time (it defaulted to the time of collection)."""
    compared = [k for k in _UPDATABLE if k != "raw"]
    counts = ("reposts", "comments", "likes")
    if any(values[k] is None for k in counts):  # a count not sent again keeps its value
        for k in counts:
            values[k] = current[k] if values[k] is None else values[k]
        values["heat"] = min(sum(values[k] or 0 for k in counts), MAX_COUNT)
    if not published_given:
        compared.remove("published_at")
    changes = {k: values[k] for k in compared if values[k] != current[k]}
    if changes and values["raw"] != current["raw"]:
        changes["raw"] = values["raw"]
    return changes


def _identity(values: Mapping[str, Any]) -> tuple[str, str | int | None]:
    if values["external_id"]:
        return ("id", values["external_id"])
    return ("url", values["url_hash"])


def _merge_same_item_in_batch(rows: list[_Row], result: IngestResult) -> list[_Row]:
    """An item sent twice in one batch is stored once: the later copy wins."""
    latest: dict[tuple[str, str | int | None], _Row] = {}
    unkeyed: list[_Row] = []
    for row in rows:
        key = _identity(row.values)
        if key[1] is None:
            unkeyed.append(row)
            continue
        previous = latest.get(key)
        if previous is not None:
            result.outcomes.append(_outcome(index=previous.index, status="unchanged"))
        latest[key] = row
    return sorted([*latest.values(), *unkeyed], key=lambda r: r.index)


_COMPARED = (Mention.id, Mention.status, *[getattr(Mention, k) for k in _UPDATABLE])


def _existing_same_items(
    session: Session, source_id: int, rows: list[_Row]
) -> dict[tuple[str, str | int | None], dict[str, Any]]:
    external_ids = [r.values["external_id"] for r in rows if r.values["external_id"]]
    url_hashes = [
        r.values["url_hash"]
        for r in rows
        if not r.values["external_id"] and r.values["url_hash"] is not None
    ]
    found: dict[tuple[str, str | int | None], dict[str, Any]] = {}
    for chunk in _chunks(external_ids):
        query = select(Mention.external_id, *_COMPARED).where(
            Mention.source_id == source_id, Mention.external_id.in_(chunk)
        )
        for rec in session.execute(query).mappings():
            found[("id", rec["external_id"])] = dict(rec)
    for chunk in _chunks(url_hashes):
        query = select(*_COMPARED).where(
            Mention.source_id == source_id,
            Mention.external_id.is_(None),
            Mention.url_hash.in_(chunk),
        )
        for rec in session.execute(query).mappings():
            found[("url", rec["url_hash"])] = dict(rec)
    return found


def _insert(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows and return their ids in order."""
    if not rows:
        return []
    if session.get_bind().dialect.name == "sqlite":
        return _insert_sqlite(session, rows)
    return list(
        session.execute(
            insert(Mention).returning(Mention.id, sort_by_parameter_order=True), rows
        ).scalars()
    )


def _insert_sqlite(session: Session, rows: list[dict[str, Any]]) -> list[int]:
    """One executemany on the driver, ids read back from the rowid counter.

    SQLite has one writer: from the first write until the commit this transaction holds the
    lock, and each row without an id gets max(rowid) + 1, so the rows of one executemany have
    consecutive ids ending at last_insert_rowid(). RETURNING with ordered rows would make
    SQLAlchemy fall back to small batches, and its per-row parameter processing costs more
    than the insert itself.
    """
    connection = session.connection()
    columns, processors = _sqlite_insert_plan(connection.dialect)
    statement = (
        f"INSERT INTO mention ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    converted = [(i, proc) for i, proc in enumerate(processors) if proc is not None]
    params = list(map(list, map(itemgetter(*columns), rows)))
    for values in params:
        for i, proc in converted:
            value = values[i]
            if value.__class__ is datetime and value.tzinfo is None:
                # The text SQLAlchemy's SQLite DateTime stores, made by one C call.
                values[i] = value.isoformat(" ", "microseconds")
            elif value is not None:
                values[i] = proc(value)
    connection.exec_driver_sql(statement, list(map(tuple, params)))
    last = connection.exec_driver_sql("SELECT last_insert_rowid()").scalar_one()
    return list(range(last - len(rows) + 1, last + 1))


INSERTED_COLUMNS = (
    # The mention columns an ingest writes, in the order of the bulk insert.
    "source_id",
    "external_id",
    "url",
    "canonical_url",
    "url_hash",
    "title",
    "text",
    "author",
    "published_at",
    "collected_at",
    "parent_external_id",
    "root_external_id",
    "language",
    "raw",
    "status",
    "content_hash",
    "duplicate_of_id",
    "duplicate_count",
    "near_count",
    "search_text",
    "platform",
    "reposts",
    "comments",
    "likes",
    "heat",
    *ANALYSIS_COLUMNS,
)


def _sqlite_insert_plan(dialect: Any) -> tuple[tuple[str, ...], list[Any]]:
    """Columns of an insert and the type's own bind processor of each (datetimes as text)."""
    types = [_MENTION.c[name].type.dialect_impl(dialect) for name in INSERTED_COLUMNS]
    return INSERTED_COLUMNS, [kind.bind_processor(dialect) for kind in types]


def _split_copies(session: Session, fresh: list[_Row]) -> tuple[list[_Row], list[tuple[_Row, int]]]:
    """Separate originals from exact copies (same canonical URL or same title and text).

    A copy of a stored mention gets that mention's id; a copy of an earlier row of the same
    batch gets ``-(index + 1)`` of that row, resolved once the original has its id.
    """
    if not fresh:
        return [], []
    url_hashes = list({r.values["url_hash"] for r in fresh if r.values["url_hash"] is not None})
    hashes = list({r.values["content_hash"] for r in fresh})
    stored = {
        **{("u", k): m for k, m in _first_listed(session, Mention.url_hash, url_hashes).items()},
        **{("c", k): m for k, m in _first_listed(session, Mention.content_hash, hashes).items()},
    }
    originals: list[_Row] = []
    copies: list[tuple[_Row, int]] = []
    in_batch: dict[tuple[str, int], int] = {}
    for row in fresh:
        keys = [("c", row.values["content_hash"])]
        if row.values["url_hash"] is not None:
            keys.insert(0, ("u", row.values["url_hash"]))
        first = next((stored[k] for k in keys if k in stored), None)
        if first is None:
            first = next((-(in_batch[k] + 1) for k in keys if k in in_batch), None)
        if first is not None:
            copies.append((row, first))
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
        query = select(column, func.min(Mention.id)).where(column.in_(chunk)).group_by(column)
        first.update(
            {key: mention_id for key, mention_id in session.execute(query) if key is not None}
        )
    if not first:
        return {}
    ids = list(first.values())
    listed: set[int] = set()
    for id_chunk in _chunks(ids):
        # Status is checked here, not in SQL, where it would pick the status index.
        query = select(Mention.id, Mention.status).where(Mention.id.in_(id_chunk))
        listed.update(m for m, status in session.execute(query) if status == "new")
    found = {key: mention_id for key, mention_id in first.items() if mention_id in listed}
    rest = [key for key in first if key not in found]
    for chunk in _chunks(rest):
        query = select(Mention.id, column).where(column.in_(chunk), Mention.status == "new")
        for mention_id, key in session.execute(query):
            if mention_id < found.get(key, mention_id + 1):
                found[key] = mention_id
    return found


def _chunks(values: list[Any], size: int = 500) -> list[list[Any]]:
    return [values[i : i + size] for i in range(0, len(values), size)]


def _count_on_source(session: Session, source: Source, result: IngestResult, now: Any) -> None:
    values: dict[str, Any] = {
        "count_new": Source.count_new + result.new,
        "count_duplicate": Source.count_duplicate + result.duplicate,
        "count_updated": Source.count_updated + result.updated,
        "count_failed": Source.count_failed + result.failed,
    }
    if result.new:
        values["last_new_item_at"] = now
    session.execute(update(Source).where(Source.id == source.id).values(**values))


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


# --- counts and samples for the alert rules (they run per rule every minute) ---------------
# Plain SQL, as the rules had it, so the counts stay one indexed scan each. The imports are
# local while this module is being split into rooms.


def count_sentiment(session: Session, *, since: datetime, until: datetime) -> tuple[int, int]:
    """Listed mentions published in [since, until]: (all, negative)."""
    from sqlalchemy import text

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
    from sqlalchemy import text

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
    from sqlalchemy import text

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
