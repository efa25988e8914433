"""The analysis page (分析) of a monitoring scheme or any filter of the stream, and the JSON
its charts draw from. Filters are the stream's own (mentions/filters.py), so every chart
leads back to the stream with the same filter narrowed to what was clicked."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timedelta
from time import monotonic
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from yuqing.analysis import insights, places
from yuqing.analysis.insights import SENTIMENT_LABELS, Scope
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import format_local, utcnow
from yuqing.mentions import filters as stream_filters
from yuqing.mentions import platforms
from yuqing.mentions.filters import TIME_RANGES, StreamFilters
from yuqing.mentions.models import Mention
from yuqing.pagekit.templating import ECHARTS_FILE, query_url, render
from yuqing.schemes import service as schemes_service
from yuqing.schemes.models import Scheme

router = APIRouter()
Reader = Annotated[Principal, Depends(require("mentions.read"))]
DEFAULT_RANGE = "7d"
"""Without a time range the analysis covers the last 7 days (a bounded read at any size)."""
MAX_DAYS = 92
"""The longest range one analysis covers (about a quarter)."""
FiltersDep = Annotated[StreamFilters, Depends(stream_filters.reader(places.provinces))]


def _bounded(filters: StreamFilters) -> tuple[datetime, datetime, bool]:
    """The stream's time range of ``filters``, closed: no range is the last 7 days, an open
    end is now, an open start 7 days before the end, and at most ``MAX_DAYS``; and whether
    the end was given (else the query leaves it open, as the stream does)."""
    if filters.when is None:
        filters.when = DEFAULT_RANGE
    start, end = stream_filters.time_range(filters)
    now = utcnow()
    given = end is not None and end < now
    end = min(end, now) if end is not None else now
    if start is None:
        start = end - timedelta(days=7)
    if end - start > timedelta(days=MAX_DAYS):
        start = end - timedelta(days=MAX_DAYS)
        filters.problems.append(f"一次最多分析 {MAX_DAYS} 天，已按结束日期前 {MAX_DAYS} 天统计。")
    if end <= start:  # a range wholly in the future
        start = end
    return start, end, given


def scope_of(filters: StreamFilters, user_id: int | None) -> Scope:
    start, end, given = _bounded(filters)
    return Scope(
        start=start,
        end=end,
        end_bounds=given,
        source_id=filters.source_id,
        source_kind=filters.source_kind,
        platform=filters.platform,
        user_id=user_id,
        mark=filters.mark,
        analysis=filters.search_filters(),
    )


def _day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def _item(m: Mention, source_names: dict[int, str]) -> dict[str, Any]:
    return {
        "id": m.id,
        "title": m.title or "（无标题）",
        "href": f"/mentions/{m.id}",
        "platform": platforms.PLATFORMS.get(m.platform or "", "其他"),
        "source": source_names.get(m.source_id, ""),
        "published": format_local(m.published_at, "%m-%d %H:%M"),
        "sentiment": m.sentiment or "",
        "risk": m.risk_score,
        "reposts": m.reposts,
        "comments": m.comments,
        "likes": m.likes,
        "heat": m.heat,
    }


def _trend(scope: Scope, volume: insights.Volume) -> dict[str, Any]:
    steps = insights.buckets(scope)
    hourly = scope.unit == "hour"
    return {
        "unit": scope.unit,
        "labels": [start.strftime("%m-%d %H:00" if hourly else "%m-%d") for _, start in steps],
        # The stream filters by day: a step leads to its day.
        "queries": [{"range": "custom", "start": _day(s), "end": _day(s)} for _, s in steps],
        "series": {s: [volume.trend[s][key] for key, _ in steps] for s in insights.SENTIMENTS},
    }


def snapshot(session: Session, *, scope: Scope, filters: StreamFilters) -> dict[str, Any]:
    """Everything the analysis page draws, JSON-ready; ``query`` pieces are stream filters
    that, merged into ``stream`` (the page's own filters), list the items of a chart part."""
    volume = insights.volume(session, scope=scope)
    top = insights.top_spread(session, scope=scope)
    negative = insights.negative_items(session, scope=scope)
    sources = volume.sources.most_common(insights.TOP_SOURCES)
    names = insights.source_names(
        session, sorted({s for s, _ in sources} | {m.source_id for m in top + negative})
    )
    province_names = {p.code: p.name for p in places.provinces()}
    return {
        "generated_at": format_local(utcnow(), "%Y-%m-%d %H:%M"),
        "range": {
            "start": format_local(scope.start, "%Y-%m-%d %H:%M"),
            "end": format_local(scope.end, "%Y-%m-%d %H:%M"),
            "unit": scope.unit,
        },
        "problems": filters.problems,
        "stream": filters.query(),
        "total": volume.total,
        "sentiments": [
            {
                "key": s,
                "label": SENTIMENT_LABELS[s],
                "count": volume.sentiments[s],
                "query": {"sentiment": s} if s else None,
            }
            for s in insights.SENTIMENTS
        ],
        "trend": _trend(scope, volume),
        "platforms": [
            {"key": k, "label": platforms.PLATFORMS.get(k, k), "count": n, "query": {"platform": k}}
            for k, n in volume.platforms.most_common()
        ],
        "sources": [
            {"id": s, "label": names.get(s, f"信息源 {s}"), "count": n, "query": {"source_id": s}}
            for s, n in sources
        ],
        "other_sources": volume.total - sum(n for _, n in sources),
        "places": [
            {
                "code": code,
                "label": province_names.get(code, code),
                "count": n,
                "query": {"province": code},
            }
            for code, n in insights.province_counts(session, scope=scope)
        ],
        "hot_words": [
            {"term": t, "count": n, "href": query_url("/search", filters.query(q=t))}
            for t, n in insights.hot_words(session, scope=scope)
        ],
        "hot_word_sample": insights.HOT_WORD_SAMPLE,
        "top_items": [_item(m, names) for m in top],
        "negative_items": [_item(m, names) for m in negative],
    }


def _user_id(request: Request) -> int | None:
    principal = getattr(request.state, "principal", None)
    return principal.user_id if principal is not None else None


@router.get("/analysis", response_class=HTMLResponse, include_in_schema=False)
def analysis_page(
    request: Request, session: SessionDep, filters: FiltersDep, principal: Reader
) -> HTMLResponse:
    """The analysis of a filter of the stream (or of a scheme: ``?scheme_id=``)."""
    start, end, _ = _bounded(filters)
    scheme = session.get(Scheme, filters.scheme_id) if filters.scheme_id else None
    query = filters.query()
    return render(
        request,
        "insights/page.html",
        {
            "nav": "stream",
            "filters": filters,
            "scheme": scheme,
            "start": start,
            "end": end,
            "api": query_url("/api/v1/analysis", query),
            "stream_url": query_url("/", query),
            "echarts_available": ECHARTS_FILE.is_file(),
            "range_label": TIME_RANGES.get(filters.when or "", ""),
            "max_days": MAX_DAYS,
            **stream_filters.choices(
                session, schemes=schemes_service.list_all(session), provinces=places.provinces()
            ),
            "platform_labels": platforms.PLATFORMS,
        },
    )


class RecentAnswers:
    """Answers of the last ``seconds`` by filter: people watching the same scheme or filter
    share one computation (a week at 1M mentions costs a few hundred ms of CPU), and
    readers arriving while it runs wait for it instead of computing it again. Each answer
    says when it was computed (统计于)."""

    def __init__(self, seconds: float = 60.0, size: int = 64) -> None:
        self.seconds = seconds
        self.size = size
        self._answers: OrderedDict[str, tuple[float, dict[str, Any]]] = OrderedDict()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def get(self, key: str, compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                found = self._answers.get(key)
            if found is not None and monotonic() - found[0] < self.seconds:
                return found[1]
            answer = compute()
            with self._guard:
                self._answers[key] = (monotonic(), answer)
                self._answers.move_to_end(key)
                while len(self._answers) > self.size:
                    old, _ = self._answers.popitem(last=False)
                    self._locks.pop(old, None)
            return answer

    def clear(self) -> None:
        with self._guard:
            self._answers.clear()


RECENT = RecentAnswers()


@router.get("/api/v1/analysis", summary="分析数据")
def analysis_data(
    request: Request, session: SessionDep, filters: FiltersDep, principal: Reader
) -> dict[str, Any]:
    """信息流同一筛选条件下的趋势、情感、平台、来源、地域、热词、传播最广和需关注的负面信息。
    未给时间范围时统计近 7 天，一次最多 92 天；按小时（3 天以内）或按天分段。
    同一筛选条件的结果保留 60 秒（generated_at 为统计时间）。"""
    user_id = _user_id(request)
    # The 标记 filter reads the account's own marks: its answers are the account's own.
    key = query_url("", {**filters.query(), "user": user_id if filters.mark else None})

    def compute() -> dict[str, Any]:
        return snapshot(session, scope=scope_of(filters, user_id), filters=filters)

    return RECENT.get(key, compute)
