"""Capped counts for list pages: a page never counts every row of a large table.

At 1,000,000 mentions an exact count of a list cost more than the page itself (the
stream's 7-day count took 0.71 s of a 1.75 s page, docs/stream.md). A list therefore counts
at most ``COUNT_CAP`` rows through a LIMITed subquery, which stops reading after
``COUNT_CAP + 1`` rows, and a page shows "10,000+" (title "超过 10,000 条") beyond.
Nobody pages past 10,000 rows; the filters narrow a list instead.

A list found past the cap is taken as still past it for ``PAST_CAP_SECONDS`` without
counting again: a list that long does not fall under 10,000 rows in seconds, and the desk's
readers counted the same 10,001 rows on every page they opened (in ``bench/soak.py`` on
PostgreSQL, the stream's count was a quarter of the database's time, 19 ms each). A count
under the cap is always counted: it is cheap and it must be exact.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import Session

COUNT_CAP = 10_000
"""Rows a list page counts at most (read at each call, so a test can lower it)."""

PAST_CAP_SECONDS = 10.0
"""Seconds a list found past the cap is shown as past it without counting again."""

_PAST_CAP_KEPT = 512  # lists remembered at most (one per filter combination in use)
_past_cap: dict[tuple[Any, ...], float] = {}  # (database, statement, values) → when
_lock = threading.Lock()


@dataclass(frozen=True)
class Count:
    """How many rows a list has: exact when ``capped`` is false, else "more than ``value``"."""

    value: int
    capped: bool = False

    def __str__(self) -> str:
        return f"{self.value:,}+" if self.capped else str(self.value)

    def __html__(self) -> str:
        """How a template shows it (``{{ total }}``): the capped count says so on hover."""
        if not self.capped:
            return str(self.value)
        return str(
            Markup('<span class="count-capped" title="{}">{}</span>').format(
                f"超过 {self.value:,} 条（列表只数到这里）", escape(str(self))
            )
        )

    def pages(self, per_page: int) -> int:
        """Pages of ``per_page`` rows (at least one)."""
        return max(1, -(-self.value // per_page))


def capped_count(session: Session, query: Select[Any], *, cap: int | None = None) -> Count:
    """Rows of ``query`` (its FROM, joins and WHERE; columns and order ignored), counted up to
    ``cap`` (default ``COUNT_CAP``): one LIMITed subquery that stops after ``cap + 1`` rows."""
    bound = COUNT_CAP if cap is None else cap
    rows: Select[Any] = (
        query.with_only_columns(literal_column("1"), maintain_column_froms=True)
        .order_by(None)
        .limit(bound + 1)
    )
    statement = select(func.count()).select_from(rows.subquery())
    key = _key(session, statement)
    now = time.monotonic()
    if key is not None and now - _past_cap.get(key, -PAST_CAP_SECONDS) < PAST_CAP_SECONDS:
        return Count(bound, True)
    found = int(session.execute(statement).scalar_one())
    if key is None:
        return Count(min(found, bound), found > bound)
    with _lock:
        if found > bound:
            if len(_past_cap) >= _PAST_CAP_KEPT:
                _past_cap.clear()
            _past_cap[key] = now
        else:
            _past_cap.pop(key, None)
    return Count(min(found, bound), found > bound)


def forget() -> None:
    """Count every list again (a test that emptied the tables under the process)."""
    with _lock:
        _past_cap.clear()


def _key(session: Session, statement: Select[Any]) -> tuple[Any, ...] | None:
    """The list's database, statement shape and values (the cap among them), or None for a
    statement SQLAlchemy cannot key. The shape is SQLAlchemy's own cache key, the one its
    execution computes anyway: compiling the statement to text for the key cost 0.37 ms a
    count, more than counting a short list. Times are taken to the minute: the stream's
    "last 7 days" starts a few microseconds later on every request, and a list past the
    cap a moment ago is past it for a start some seconds later."""
    cache_key = statement._generate_cache_key()
    if cache_key is None:
        return None
    values = repr(tuple(_rounded(bound.effective_value) for bound in cache_key.bindparams))
    return (str(session.get_bind().engine.url), cache_key.key, values)


def _rounded(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(second=0, microsecond=0)
    return value
