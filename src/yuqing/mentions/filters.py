"""The stream's filters (信息流筛选): read from a query string, turned into time bounds and
search filters, and offered as the form's choices; shared by the stream, search and the
analysis page, so a chart leads back to the stream with the same filters.

The filters narrow by province and by scheme, which the analysis and schemes domains know
and this layer may not import: the views pass the provinces and schemes in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any, Protocol

from fastapi import Query
from sqlalchemy.orm import Session

from yuqing.core.labels import SENTIMENT_LABELS, SOURCE_KINDS
from yuqing.core.timeutil import local_zone, to_utc_naive, utcnow
from yuqing.mentions import platforms
from yuqing.mentions.search import SearchFilters
from yuqing.sources import service as sources_service

MAX_PAGE = 500
TIME_RANGES = {"today": "今天", "24h": "24小时", "7d": "7天", "custom": "自定义"}
SORT_LABELS = {"time": "最新", "risk": "风险最高", "heat": "热度最高"}
MARK_LABELS = {"unread": "未读", "important": "重要"}
RISK_STEPS = (40, 60, 80)
"""Minimum risk scores offered in the filter; the colours of the score change at the same steps."""


class Coded(Protocol):
    """A province as the filter needs it: its 6-digit code (``analysis.places.Place``)."""

    @property
    def code(self) -> str: ...


@dataclass
class StreamFilters:
    """Filters shared by the stream and search; values come from query strings as text so an
    empty select (``source_id=``) means "all" instead of a 422."""

    source_id: int | None = None
    source_kind: str | None = None
    sentiment: str | None = None
    province: str | None = None
    min_risk: int | None = None
    scheme_id: int | None = None
    # The stream's own: time range (today | 24h | 7d | custom with start/end dates), order,
    # platform and the account's marks (unread | important).
    when: str | None = None
    start: str | None = None
    end: str | None = None
    sort: str | None = None
    platform: str | None = None
    mark: str | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def query(self, **extra: Any) -> dict[str, Any]:
        """Query-string values of these filters (for links), without empty ones."""
        values = {
            "range": self.when,
            "start": self.start if self.when == "custom" else None,
            "end": self.end if self.when == "custom" else None,
            "platform": self.platform,
            "source_id": self.source_id,
            "source_kind": self.source_kind,
            "sentiment": self.sentiment,
            "province": self.province,
            "min_risk": self.min_risk,
            "scheme_id": self.scheme_id,
            "mark": self.mark,
            "sort": self.sort,
            **extra,
        }
        return {k: v for k, v in values.items() if v not in (None, "")}

    @property
    def active(self) -> bool:
        """Whether anything narrows the list (so the page offers to clear it)."""
        return bool(self.query())

    def search_filters(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> SearchFilters:
        """The analysis filters of the search index, between ``start`` and ``end``."""
        return SearchFilters(
            start=start,
            end=end,
            source_id=self.source_id,
            source_kind=self.source_kind,
            sentiment=self.sentiment,
            province=self.province,
            min_risk=self.min_risk,
            scheme_id=self.scheme_id,
        )


def to_int(value: str | None, *, low: int = 1, high: int | None = None) -> int | None:
    """A whole number from a form or query value, at least ``low`` and capped at ``high``;
    anything else is None (the filter is dropped, not refused)."""
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    if number < low:
        return None
    return min(number, high) if high else number


def reader(provinces: Callable[[], Iterable[Coded]]) -> Callable[..., StreamFilters]:
    """The request dependency that reads the filters; a province is kept only if it is one of
    ``provinces()``, and unknown values are dropped rather than refused."""

    def read_filters(
        source_id: str | None = None,
        source_kind: str | None = None,
        sentiment: str | None = None,
        province: str | None = None,
        min_risk: str | None = None,
        scheme_id: str | None = None,
        page: str | None = None,
        when: Annotated[str | None, Query(alias="range")] = None,
        start: str | None = None,
        end: str | None = None,
        sort: str | None = None,
        platform: str | None = None,
        mark: str | None = None,
    ) -> StreamFilters:
        known = {p.code for p in provinces()}
        return StreamFilters(
            source_id=to_int(source_id),
            source_kind=source_kind if source_kind in SOURCE_KINDS else None,
            sentiment=sentiment if sentiment in SENTIMENT_LABELS else None,
            province=province if province in known else None,
            min_risk=to_int(min_risk, high=100),
            scheme_id=to_int(scheme_id),
            when=when if when in TIME_RANGES else ("custom" if start or end else None),
            start=(start or "").strip()[:20] or None,
            end=(end or "").strip()[:20] or None,
            sort=sort if sort in SORT_LABELS and sort != "time" else None,
            platform=platform if platform in platforms.PLATFORMS else None,
            mark=mark if mark in MARK_LABELS else None,
            page=to_int(page, high=MAX_PAGE) or 1,
        )

    return read_filters


def choices(
    session: Session, *, schemes: Sequence[Any], provinces: Sequence[Any]
) -> dict[str, Any]:
    """What the filter form's selects offer (full pages only; fragments reuse the form)."""
    return {
        "all_sources": sorted(sources_service.list_all(session), key=lambda s: s.name),
        "all_schemes": schemes,
        "provinces": provinces,
        "risk_steps": RISK_STEPS,
        "time_ranges": TIME_RANGES,
        "sort_labels": SORT_LABELS,
        "mark_labels": MARK_LABELS,
    }


def day_start(value: str | None, label: str, problems: list[str]) -> datetime | None:
    """A ``YYYY-MM-DD`` date input as the UTC instant its day starts in the local zone; a bad
    date adds a problem named by ``label`` and gives None."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{label}“{value}”不是有效日期，应为 年-月-日，例如 2024-03-05。")
        return None
    return to_utc_naive(datetime.combine(day, time.min), assume=local_zone())


def day_bounds(
    start: str | None, end: str | None, problems: list[str]
) -> tuple[datetime | None, datetime | None]:
    """The UTC bounds of a start and an end date, the end date included."""
    begin = day_start(start, "开始日期", problems)
    finish = day_start(end, "结束日期", problems)
    if finish is not None:
        finish += timedelta(days=1)
    return begin, finish


def time_range(filters: StreamFilters) -> tuple[datetime | None, datetime | None]:
    """The UTC bounds of the stream's time range; a bad custom date is a problem on the
    filters (shown above the list) and leaves that bound open."""
    now = utcnow()
    if filters.when == "today":
        today = datetime.now(local_zone()).date()
        return to_utc_naive(datetime.combine(today, time.min), assume=local_zone()), None
    if filters.when == "24h":
        return now - timedelta(hours=24), None
    if filters.when == "7d":
        return now - timedelta(days=7), None
    if filters.when != "custom":
        return None, None
    begin, finish = day_bounds(filters.start, filters.end, filters.problems)
    if begin is not None and finish is not None and finish <= begin:
        filters.problems.append("结束日期早于开始日期，请重新选择。")
    return begin, finish
