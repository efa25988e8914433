"""Desk pages of events (事件): the list, one event, hot topics; merge and split forms."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core import labels
from yuqing.core.database import SessionDep
from yuqing.events import charts, service
from yuqing.events.models import Event
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import ECHARTS_FILE, render

router = APIRouter(include_in_schema=False)
api_router = APIRouter(prefix="/api/v1/events", tags=["事件 events"])
CanRead = Depends(require("mentions.read"))
# Merging and splitting re-files mentions, as correcting a label does: the same permission.
CanManage = Annotated[Principal, Depends(require("mentions.label"))]
PAGE_SIZE = 20
MAX_PAGE = 500
SENTIMENT_LABELS = {**labels.SENTIMENT_LABELS, "unscored": labels.UNSCORED_LABEL}


def _event_or_404(event_id: int, session: SessionDep) -> Event:
    event = service.get(session, event_id=event_id)
    if event is None:
        raise HTTPException(404, f"没有 ID 为 {event_id} 的事件")
    return event


CurrentEvent = Annotated[Event, Depends(_event_or_404)]
Page = Annotated[int, Query(ge=1, le=MAX_PAGE)]


@router.get("/events", response_class=HTMLResponse, dependencies=[CanRead])
def events_page(
    request: Request, session: SessionDep, page: Page = 1, min_size: int = Query(1, ge=1)
) -> HTMLResponse:
    rows, total = service.list_events(session, page=page, per_page=PAGE_SIZE, min_size=min_size)
    return render(
        request,
        "events/list.html",
        {
            "nav": "events",
            "rows": rows,
            "total": total,
            "page": page,
            "pages": total.pages(PAGE_SIZE),
            "params": {"min_size": min_size if min_size > 1 else None},
            "share": service.sentiment_share,
            "sparkline": service.sparkline,
            "labels": SENTIMENT_LABELS,
        },
    )


@router.get("/events/hot", response_class=HTMLResponse, dependencies=[CanRead])
def hot_page(request: Request, session: SessionDep) -> HTMLResponse:
    at = service.reference_time(session)
    return render(
        request,
        "events/hot.html",
        {
            "nav": "events",
            "at": at,
            "topics": service.hot_topics(session, now=at),
            "rising": service.rising_events(session, now=at),
        },
    )


def _detail(
    request: Request,
    session: Session,
    event: Event,
    page: int,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    found = service.detail(session, event=event)
    members, total = service.members(session, event=event, page=page, per_page=PAGE_SIZE)
    return render(
        request,
        "events/detail.html",
        {
            "nav": "events",
            "d": found,
            "event": event,
            "chain": service.flatten(found.chain),
            "related": service.related(session, event=event),
            "members": members,
            "total": total,
            "page": page,
            "pages": total.pages(PAGE_SIZE),
            "params": {},
            "share": service.sentiment_share(event),
            "labels": SENTIMENT_LABELS,
            "problem": problem,
            "notice": request.query_params.get("notice"),
            "echarts_available": ECHARTS_FILE.is_file(),
            "tree_limit": charts.TREE_LIMIT,
        },
        status_code=status_code,
    )


@router.get("/events/{event_id}", response_class=HTMLResponse, dependencies=[CanRead])
def event_page(
    request: Request, session: SessionDep, event: CurrentEvent, page: Page = 1
) -> HTMLResponse:
    return _detail(request, session, event, page)


@api_router.get("/{event_id}/charts", summary="事件图表数据", dependencies=[CanRead])
def event_charts(session: SessionDep, event: CurrentEvent) -> dict[str, Any]:
    """事件页的图表：每小时趋势（标出首发）、情感走势、来源与平台分布、转发树（最多画
    150 条，另有多少条未画出）。转发树只含信息标题与时间，不含作者。"""
    return charts.snapshot(session, event=event)


@router.post("/events/{event_id}/merge", response_class=HTMLResponse)
def merge_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,  # before the event: a refused or signed-out client learns no ids
    event: CurrentEvent,
    _csrf: CsrfChecked,
    others: Annotated[str, Form()] = "",
) -> Response:
    """Merge the listed events (ids separated by spaces or commas) into this one."""
    ids, bad = _ids(others)
    if bad:
        return _detail(
            request, session, event, 1, problem=f"无法识别的事件编号：{bad}", status_code=422
        )
    found = [service.get(session, event_id=i) for i in ids]
    missing = [i for i, e in zip(ids, found, strict=True) if e is None]
    if missing:
        return _detail(
            request, session, event, 1, problem=f"没有 ID 为 {missing[0]} 的事件", status_code=422
        )
    try:
        service.merge(session, target=event, others=[e for e in found if e], actor=principal.actor)
    except service.EventError as error:
        session.rollback()
        return _detail(request, session, event, 1, problem=str(error), status_code=422)
    session.commit()
    return RedirectResponse(f"/events/{event.id}?notice=已合并", status_code=303)


@router.post("/events/{event_id}/split", response_class=HTMLResponse)
def split_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,  # before the event: a refused or signed-out client learns no ids
    event: CurrentEvent,
    _csrf: CsrfChecked,
    mention_ids: Annotated[list[int] | None, Form()] = None,
) -> Response:
    """Move the ticked mentions into a new event."""
    try:
        created = service.split(
            session, event=event, mention_ids=mention_ids or [], actor=principal.actor
        )
    except service.EventError as error:
        session.rollback()
        return _detail(request, session, event, 1, problem=str(error), status_code=422)
    session.commit()
    return RedirectResponse(f"/events/{created.id}?notice=已拆分", status_code=303)


def _ids(text: str) -> tuple[list[int], str]:
    ids: list[int] = []
    for part in text.replace("，", ",").replace(",", " ").split():
        if not part.isdigit():
            return [], part[:20]
        ids.append(int(part))
    if not ids:
        return [], "（空）"
    return list(dict.fromkeys(ids)), ""
