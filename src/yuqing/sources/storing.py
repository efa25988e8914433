"""How a collecting path hands its items on: the ``Store`` it is given (the pipeline), and
the isolation that keeps one bad item from taking a batch down.

Collectors (the push API, the importers) know what a failed item is; what storing one means
is the pipeline's, above them, which passes itself in as the ``Store``."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.exc import (
    DataError,
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
    StatementError,
)
from sqlalchemy.orm import Session

from yuqing.sources.models import Source
from yuqing.sources.schemas import IngestResult, ItemIn, ItemOutcome

log = logging.getLogger(__name__)


class Store(Protocol):
    """What stores the collected items of a source: the pipeline (``worker.pipeline.process``,
    which analyses), or ``ingest`` in a test that wants storing alone."""

    def __call__(
        self, session: Session, *, source: Source, items: Sequence[ItemIn | Mapping[str, Any]]
    ) -> IngestResult: ...


class KnownLinks(Protocol):
    """Which of a list page's article links (by URL key) a source has stored already, so a
    fetch follows only the new ones (``mentions.service.list_stored_url_hashes``)."""

    def __call__(self, session: Session, *, source_id: int, url_hashes: list[int]) -> set[int]: ...


@dataclass(frozen=True)
class Unreadable:
    """An item that could not even be read (e.g. JSON nested too deep); it fails alone."""

    reason: str


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
            result.outcomes.append(ItemOutcome(index=index, status="failed", error=item.reason))
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
        self.result.outcomes.append(ItemOutcome(index=part[0][0], status="failed", error=reason))
