"""Desk pages of mentions: the stream (信息流), search (搜索) and the page of one mention."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse

from yuqing.core.database import get_session
from yuqing.core.timeutil import local_zone, to_utc_naive
from yuqing.mentions import neardup, service
from yuqing.mentions import search as mention_search
from yuqing.mentions.models import Mention
from yuqing.sources import service as sources_service
from yuqing.sources.models import SOURCE_KINDS, Source
from yuqing.web.templating import error_page, render

router = APIRouter(include_in_schema=False)

SessionDep = Annotated[Session, Depends(get_session)]
PAGE_SIZE = 20
MAX_PAGE = 500


@dataclass
class StreamFilters:
    """Filters shared by the stream and search; values come from query strings as text so an
    empty select (``source_id=``) means "all" instead of a 422."""

    source_id: int | None = None
    source_kind: str | None = None
    page: int = 1
    problems: list[str] = field(default_factory=list)

    def query(self, **extra: Any) -> dict[str, Any]:
        """Query-string values of these filters (for links), without empty ones."""
        values = {"source_id": self.source_id, "source_kind": self.source_kind, **extra}
        return {k: v for k, v in values.items() if v not in (None, "")}


def _to_int(value: str | None, *, low: int = 1, high: int | None = None) -> int | None:
    try:
        number = int((value or "").strip())
    except ValueError:
        return None
    if number < low:
        return None
    return min(number, high) if high else number


def _filters(source_id: str | None, source_kind: str | None, page: str | None) -> StreamFilters:
    kind = source_kind if source_kind in SOURCE_KINDS else None
    return StreamFilters(
        source_id=_to_int(source_id),
        source_kind=kind,
        page=_to_int(page, high=MAX_PAGE) or 1,
    )


def _sources(session: Session) -> list[Source]:
    return sorted(sources_service.list_all(session), key=lambda s: s.name)


def _listed_page(session: Session, filters: StreamFilters) -> tuple[list[Mention], int]:
    return service.list_listed(
        session,
        source_id=filters.source_id,
        source_kind=filters.source_kind,
        limit=PAGE_SIZE,
        offset=(filters.page - 1) * PAGE_SIZE,
    )


def _by_ids(session: Session, ids: list[int]) -> list[Mention]:
    return service.get_many(session, mention_ids=ids)


def _source_names(session: Session, mentions: list[Mention]) -> dict[int, Source]:
    return sources_service.get_many(session, source_ids={m.source_id for m in mentions})


def _pages(total: int) -> int:
    return max(1, min(MAX_PAGE, -(-total // PAGE_SIZE)))


def _stream_context(session: Session, filters: StreamFilters) -> dict[str, Any]:
    mentions, total = _listed_page(session, filters)
    return {
        "mentions": mentions,
        "sources_by_id": _source_names(session, mentions),
        "total": total,
        "filters": filters,
        "pages": _pages(total),
    }


@router.get("/", response_class=HTMLResponse)
def stream(
    request: Request,
    session: SessionDep,
    source_id: str | None = None,
    source_kind: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """The stream of listed mentions, newest first."""
    filters = _filters(source_id, source_kind, page)
    context = _stream_context(session, filters)
    context.update(nav="stream", all_sources=_sources(session))
    return render(request, "mentions/stream.html", context)


@router.get("/stream", response_class=HTMLResponse)
def stream_fragment(
    request: Request,
    session: SessionDep,
    source_id: str | None = None,
    source_kind: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """Only the list of the stream: what the page polls every few seconds."""
    filters = _filters(source_id, source_kind, page)
    return render(request, "mentions/_stream_list.html", _stream_context(session, filters))


def _day_start(value: str | None, label: str, problems: list[str]) -> datetime | None:
    """A ``YYYY-MM-DD`` date input as the UTC instant its day starts in the local zone."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        problems.append(f"{label}“{value}”不是有效日期，应为 年-月-日，例如 2024-03-05。")
        return None
    return to_utc_naive(datetime.combine(day, time.min), assume=local_zone())


def _search_context(
    session: Session, q: str, start: str | None, end: str | None, filters: StreamFilters
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "q": q,
        "start": start or "",
        "end": end or "",
        "filters": filters,
        "results": [],
        "total": 0,
        "capped": False,
        "error": None,
        "searched": False,
        "pages": 1,
        "highlight": mention_search.highlight,
    }
    if not q.strip():
        return context
    problems: list[str] = []
    begin = _day_start(start, "开始日期", problems)
    finish = _day_start(end, "结束日期", problems)
    if finish is not None:
        finish += timedelta(days=1)  # the end date is included
    if problems:
        context["error"] = " ".join(problems)
        return context
    search_filters = mention_search.SearchFilters(
        start=begin, end=finish, source_id=filters.source_id, source_kind=filters.source_kind
    )
    try:
        found = mention_search.search(
            session,
            q,
            filters=search_filters,
            limit=PAGE_SIZE,
            offset=(filters.page - 1) * PAGE_SIZE,
        )
    except mention_search.SearchQueryError as error:
        context["error"] = str(error)
        return context
    mentions = _by_ids(session, found.ids)
    context.update(
        searched=True,
        results=mentions,
        sources_by_id=_source_names(session, mentions),
        total=found.total,
        capped=found.total_capped,
        pages=_pages(found.total),
    )
    return context


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    q: Annotated[str, Query(max_length=500)] = "",
    start: str | None = None,
    end: str | None = None,
    source_id: str | None = None,
    source_kind: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """Search listed mentions; an HTMX request gets only the results.

    A query that cannot be run answers 200 with its message in place of the results, so
    HTMX swaps it in like any other result (it does not swap 4xx answers).
    """
    filters = _filters(source_id, source_kind, page)
    context = _search_context(session, q, start, end, filters)
    partial = request.headers.get("hx-request") == "true" and not request.headers.get(
        "hx-history-restore-request"
    )
    if partial:
        response = render(request, "mentions/_search_results.html", context)
    else:
        context.update(nav="search", all_sources=_sources(session))
        response = render(request, "mentions/search.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/mentions/{mention_id}", response_class=HTMLResponse)
def mention_page(request: Request, session: SessionDep, mention_id: int) -> HTMLResponse:
    """Everything stored about one mention."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        return error_page(
            request,
            status_code=404,
            title="找不到这条信息",
            message=f"编号为 {mention_id} 的信息不存在，可能已随信息源一起删除。",
        )
    duplicates = service.list_duplicates(session, mention=mention)
    original = session.get(Mention, mention.duplicate_of_id) if mention.duplicate_of_id else None
    related = [mention, *duplicates, *([original] if original else [])]
    return render(
        request,
        "mentions/mention.html",
        {
            "mention": mention,
            "source": session.get(Source, mention.source_id),
            "duplicates": duplicates,
            "original": original,
            "sources_by_id": _source_names(session, related),
        },
    )


@router.get("/mentions/{mention_id}/similar", response_class=HTMLResponse)
def similar_page(request: Request, session: SessionDep, mention_id: int) -> HTMLResponse:
    """The members of a near-duplicate group (相似信息), newest first."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        return error_page(
            request,
            status_code=404,
            title="找不到这条信息",
            message=f"编号为 {mention_id} 的信息不存在，可能已随信息源一起删除。",
        )
    members = neardup.members(session, mention_id=mention.id)
    return render(
        request,
        "mentions/similar.html",
        {
            "mention": mention,
            "members": members,
            "sources_by_id": _source_names(session, [mention, *members]),
        },
    )
