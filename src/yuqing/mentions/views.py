"""Desk pages of mentions: the stream (信息流), search (搜索) and the page of one mention."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Query, Request
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.analysis import places
from yuqing.analysis import service as analysis_service
from yuqing.analysis.risk import RiskScore
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.cases import calendar_service
from yuqing.cases import service as cases_service
from yuqing.cases.case_views import opened_case
from yuqing.core.counting import Count
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import format_local, utcnow
from yuqing.dashboard import service as dashboard
from yuqing.mentions import excel, marks, neardup, platforms, service
from yuqing.mentions import filters as stream_filters
from yuqing.mentions import search as mention_search
from yuqing.mentions.filters import MAX_PAGE, StreamFilters, to_int
from yuqing.mentions.models import Mention, MentionPlace
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, query_url, render
from yuqing.pagekit.templating import paragraphs as _paragraphs
from yuqing.schemes import service as schemes_service
from yuqing.sources import service as sources_service
from yuqing.sources.models import Source

# Every page here only reads mentions.
router = APIRouter(include_in_schema=False, dependencies=[Depends(require("mentions.read"))])

PAGE_SIZE = 20
PLACE_LEVELS = {"province": "省级", "city": "地市级", "county": "县区级"}
RAW_PAYLOAD_PERMISSION = "users.manage"
"""Who sees a mention's raw collector payload, which can carry platform user ids: the
administrators (docs/access.md). Nobody else gets it, on a page, in the API or an export."""

FiltersDep = Annotated[StreamFilters, Depends(stream_filters.reader(places.provinces))]


def _filter_choices(session: Session) -> dict[str, Any]:
    schemes = schemes_service.list_all(session)
    return stream_filters.choices(session, schemes=schemes, provinces=places.provinces())


def _listed_page(
    session: Session, filters: StreamFilters, user_id: int | None
) -> tuple[list[Mention], Count]:
    return service.list_listed(
        session,
        source_id=filters.source_id,
        source_kind=filters.source_kind,
        limit=PAGE_SIZE,
        offset=(filters.page - 1) * PAGE_SIZE,
        analysis=filters.search_filters(*stream_filters.time_range(filters)),
        platform=filters.platform,
        order=filters.sort or "time",
        user_id=user_id,
        mark=filters.mark,
    )


def _source_names(session: Session, mentions: list[Mention]) -> dict[int, Source]:
    return sources_service.get_many(session, source_ids={m.source_id for m in mentions})


def _pages(total: int) -> int:
    return max(1, min(MAX_PAGE, -(-total // PAGE_SIZE)))


def _user_id(request: Request) -> int | None:
    principal = getattr(request.state, "principal", None)
    return principal.user_id if principal is not None else None


def _stream_context(request: Request, session: Session, filters: StreamFilters) -> dict[str, Any]:
    user_id = _user_id(request)
    mentions, total = _listed_page(session, filters, user_id)
    ids = [m.id for m in mentions]
    return {
        "mentions": mentions,
        "sources_by_id": _source_names(session, mentions),
        "marks": marks.marks_for(session, user_id=user_id, mention_ids=ids) if user_id else {},
        "total": total,
        "filters": filters,
        "pages": _pages(total.value),
        "platform_labels": platforms.PLATFORMS,
        "here": query_url("/", filters.query(page=filters.page)),
    }


def _is_partial(request: Request) -> bool:
    """An HTMX swap (not a history restore, which needs the whole page)."""
    headers = request.headers
    return headers.get("hx-request") == "true" and not headers.get("hx-history-restore-request")


@router.get("/", response_class=HTMLResponse)
def stream(request: Request, session: SessionDep, filters: FiltersDep) -> HTMLResponse:
    """The stream of listed mentions, newest first; an HTMX request (the filter form) gets
    only the list."""
    context = _stream_context(request, session, filters)
    if _is_partial(request):
        response = render(request, "mentions/_stream_list.html", context)
        # The address bar gets the filters without the form's empty fields.
        response.headers["HX-Push-Url"] = query_url("/", filters.query())
    else:
        context.update(nav="stream", **_filter_choices(session))
        principal = getattr(request.state, "principal", None)
        if principal is not None:  # today's figures, with the cases of the user's unit
            context["numbers"] = dashboard.home_numbers(session, principal)
            context["calendar_warning"] = calendar_service.get_warning(session, principal=principal)
        response = render(request, "mentions/stream.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/stream", response_class=HTMLResponse)
def stream_fragment(request: Request, session: SessionDep, filters: FiltersDep) -> HTMLResponse:
    """Only the list of the stream: what the page polls every few seconds."""
    context = _stream_context(request, session, filters)
    return render(request, "mentions/_stream_list.html", context)


def _search_context(
    session: Session, q: str, start: str | None, end: str | None, filters: StreamFilters
) -> dict[str, Any]:
    context: dict[str, Any] = {
        "q": q,
        "start": start or "",
        "end": end or "",
        "filters": filters,
        "results": [],
        "total": Count(0),
        "error": None,
        "searched": False,
        "pages": 1,
        "highlight": mention_search.highlight,
    }
    if not q.strip():
        return context
    problems: list[str] = []
    begin, finish = stream_filters.day_bounds(start, end, problems)
    if problems:
        context["error"] = " ".join(problems)
        return context
    try:
        found, mentions = mention_search.search_page(
            session,
            q,
            filters=filters.search_filters(begin, finish),
            limit=PAGE_SIZE,
            offset=(filters.page - 1) * PAGE_SIZE,
        )
    except mention_search.SearchQueryError as error:
        context["error"] = str(error)
        return context
    context.update(
        searched=True,
        results=mentions,
        sources_by_id=_source_names(session, mentions),
        total=Count(found.total, found.total_capped),
        pages=_pages(found.total),
    )
    return context


@router.get("/search", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: SessionDep,
    filters: FiltersDep,
    q: Annotated[str, Query(max_length=500)] = "",
    start: str | None = None,
    end: str | None = None,
) -> HTMLResponse:
    """Search listed mentions; an HTMX request gets only the results.

    A query that cannot be run answers 200 with its message in place of the results, so
    HTMX swaps it in like any other result (it does not swap 4xx answers).
    """
    context = _search_context(session, q, start, end, filters)
    if _is_partial(request):
        response = render(request, "mentions/_search_results.html", context)
        shown = filters.query(q=q, start=start, end=end, page=filters.page)
        response.headers["HX-Push-Url"] = query_url("/search", shown)
    else:
        context.update(nav="search", **_filter_choices(session))
        response = render(request, "mentions/search.html", context)
    response.headers["Vary"] = "HX-Request"
    return response


@router.get("/mentions/{mention_id}", response_class=HTMLResponse)
def mention_page(request: Request, session: SessionDep, mention_id: int) -> HTMLResponse:
    """Everything stored about one mention."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        return _no_mention(request, mention_id)
    user_id = _user_id(request)
    if user_id is not None:  # opening an item marks it read for this account
        marks.mark_read(session, user_id=user_id, mention_ids=[mention.id])
        session.commit()
    duplicates = service.list_duplicates(session, mention=mention)
    original = session.get(Mention, mention.duplicate_of_id) if mention.duplicate_of_id else None
    related = [mention, *duplicates, *([original] if original else [])]
    principal = getattr(request.state, "principal", None)
    shows_raw = principal is not None and principal.can(RAW_PAYLOAD_PERMISSION)
    return render(
        request,
        "mentions/mention.html",
        {
            "mention": mention,
            "raw_payload": mention.raw if shows_raw else None,
            "source": session.get(Source, mention.source_id),
            "mark": marks.get(session, user_id=user_id, mention_id=mention.id) if user_id else None,
            "platform_labels": platforms.PLATFORMS,
            "duplicates": duplicates,
            "original": original,
            "sources_by_id": _source_names(session, related),
            **_analysis_context(session, mention),
        },
    )


def _mention_places(session: Session, mention_id: int) -> list[MentionPlace]:
    rank = {level: i for i, level in enumerate(PLACE_LEVELS)}
    found = session.scalars(select(MentionPlace).where(MentionPlace.mention_id == mention_id))
    return sorted(found, key=lambda p: (rank.get(p.level, len(rank)), p.code))


def _risk(mention: Mention) -> RiskScore | None:
    if not mention.risk_parts:
        return None
    try:
        return RiskScore.from_json(mention.risk_parts)
    except (ValueError, KeyError, TypeError):  # a damaged row shows the bare score
        return None


def _analysis_context(session: Session, mention: Mention) -> dict[str, Any]:
    """The 分析 panel: places, risk parts, the analyst's label and the matched schemes, whose
    words are marked in the body."""
    matches = schemes_service.matches_for_mention(session, mention.id)
    words = [w for m in matches for w in m.words]
    paragraphs: list[Markup] = [
        mention_search.mark_words(p, words) for p in _paragraphs(mention.text)
    ]
    return {
        "scheme_matches": matches,
        "marked_paragraphs": paragraphs,
        "places": _mention_places(session, mention.id),
        "place_levels": PLACE_LEVELS,
        "risk": _risk(mention),
        "label": analysis_service.latest_label(session, mention_id=mention.id),
        "sentiment_why": analysis_service.explain_mention(title=mention.title, body=mention.text),
    }


@router.get("/mentions/{mention_id}/similar", response_class=HTMLResponse)
def similar_page(request: Request, session: SessionDep, mention_id: int) -> HTMLResponse:
    """The members of a near-duplicate group (相似信息), newest first."""
    mention = session.get(Mention, mention_id)
    if mention is None:
        return _no_mention(request, mention_id)
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


# --- marks and batch actions ------------------------------------------------------------

MarkIds = Annotated[list[str] | None, Form()]
BATCH_ACTIONS = {"read": "已读", "important": "重要", "unimportant": "取消重要"}


def _ids(values: list[str]) -> list[int]:
    """Mention ids from a form (checkboxes); what is not an id is skipped."""
    return [i for i in (to_int(v) for v in values[: marks.MAX_BATCH]) if i is not None]


def _back(next_url: str | None) -> str:
    """Where a form returns to: a path of this desk (never another site), else the stream."""
    if next_url and next_url.startswith("/") and not next_url.startswith(("//", "/\\")):
        return next_url
    return "/"


def _person(request: Request) -> Principal:
    principal: Principal = request.state.principal
    return principal


@router.post("/mentions/{mention_id}/important", response_class=HTMLResponse)
def toggle_important(
    request: Request,
    session: SessionDep,
    mention_id: int,
    _csrf: CsrfChecked,
    next_url: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    """Flip the account's 重要 mark on one mention; an HTMX request gets the button back."""
    user_id = _person(request).user_id
    important = marks.toggle_important(session, user_id=user_id, mention_id=mention_id)
    if important is None:
        return _no_mention(request, mention_id)
    session.commit()
    if _is_partial(request):
        return render(
            request, "mentions/_important.html", {"m_id": mention_id, "important": important}
        )
    return RedirectResponse(_back(next_url), status_code=303)


@router.post("/mentions/batch/marks", response_class=HTMLResponse)
def batch_marks(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    action: Annotated[str, Form(max_length=20)] = "",
    mention_ids: MarkIds = None,
    next_url: Annotated[str | None, Form(alias="next", max_length=2000)] = None,
) -> Response:
    """Mark the selected mentions 已读, 重要 or not 重要 for this account."""
    ids = _ids(mention_ids or [])
    if action not in BATCH_ACTIONS or not ids:
        return _nothing_selected(request)
    user_id = _person(request).user_id
    if action == "read":
        marks.mark_read(session, user_id=user_id, mention_ids=ids)
    else:
        marks.set_important(
            session, user_id=user_id, mention_ids=ids, important=action == "important"
        )
    session.commit()
    return RedirectResponse(_back(next_url), status_code=303)


@router.post(
    "/mentions/batch/case",
    response_class=HTMLResponse,
    dependencies=[Depends(require("cases.report"))],
)
def batch_case(
    request: Request, session: SessionDep, _csrf: CsrfChecked, mention_ids: MarkIds = None
) -> Response:
    """Open one case (开启处置) from the selected mentions: the first one's title and link, all
    of them linked; the same first mention again returns its case."""
    ids = _ids(mention_ids or [])
    if not ids:
        return _nothing_selected(request)
    principal = _person(request)
    return opened_case(
        request,
        session,
        principal,
        lambda: cases_service.open_from_mentions(session, principal=principal, mention_ids=ids),
    )


@router.post("/mentions/batch/export")
def batch_export(
    request: Request, session: SessionDep, _csrf: CsrfChecked, mention_ids: MarkIds = None
) -> Response:
    """The selected mentions as an .xlsx file (audited)."""
    ids = _ids(mention_ids or [])
    if not ids:
        return _nothing_selected(request)
    content = excel.export_mentions(session, actor=_person(request).actor, mention_ids=ids)
    session.commit()
    name = f"信息导出_{format_local(utcnow(), '%Y%m%d_%H%M')}.xlsx"
    return Response(
        content,
        media_type=excel.XLSX_TYPE,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
            "Cache-Control": "no-store",
        },
    )


def _nothing_selected(request: Request) -> HTMLResponse:
    return error_page(
        request,
        status_code=422,
        title="没有选中信息",
        message="请先在信息流中勾选要处理的信息，再选择操作。",
    )


def _no_mention(request: Request, mention_id: int) -> HTMLResponse:
    return error_page(
        request,
        status_code=404,
        title="找不到这条信息",
        message=f"编号为 {mention_id} 的信息不存在，可能已随信息源一起删除。",
    )
