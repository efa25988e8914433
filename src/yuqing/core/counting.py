"""Capped counts for list pages: a page never counts every row of a large table.

At 1,000,000 mentions an exact count of a list cost more than the page itself (the
stream's 7-day count took 0.71 s of a 1.75 s page, docs/stream.md). A list therefore counts
at most ``COUNT_CAP`` rows through a LIMITed subquery, which stops reading after
``COUNT_CAP + 1`` rows, and a page shows "10,000+" (title "超过 10,000 条") beyond.
Nobody pages past 10,000 rows; the filters narrow a list instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape
from sqlalchemy import Select, func, literal_column, select
from sqlalchemy.orm import Session

COUNT_CAP = 10_000
"""Rows a list page counts at most (read at each call, so a test can lower it)."""


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
    found = int(session.execute(select(func.count()).select_from(rows.subquery())).scalar_one())
    return Count(min(found, bound), found > bound)
