"""Desk pages of incident handling (舆情处置): the board, reporting, the case library, the
ledger export and the accountability figures; one case and its actions are in case_views.py,
whose routes this router carries after its own (``/cases/library`` before ``/cases/{id}``).

Access is the service's: CaseNotFound → 404 (also for another unit's case), a refused
permission → 403, a refused rule (CaseError) → the page again with the rule's message (422)
and nothing changed. Routes also declare the permission they need.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.schemas import Principal
from yuqing.cases import calendar_service, case_views, config, excel, service
from yuqing.cases.case_views import Reader, Reporter, int_or_none, sees_unit_of
from yuqing.cases.models import Case
from yuqing.cases.schemas import BoardRow, CaseError, CasePermissionError
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import to_local, utcnow
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import refused, render

router = APIRouter(include_in_schema=False)

LIBRARY_PAGE = 20
NO_UNIT = 0  # no unit has this id: a filter that matches no case


def _unit_filter(principal: Principal, value: str) -> int | None:
    """The unit asked for in a filter. One outside the viewer's units matches nothing: a unit
    that reported a case another unit handles must not learn which by trying unit ids."""
    unit = int_or_none(value)
    return unit if unit is None or principal.sees_unit(unit) else NO_UNIT


def _masked(principal: Principal, row: BoardRow) -> BoardRow:
    if row.unit_id is None or principal.sees_unit(row.unit_id):
        return row
    return replace(row, unit_name=config.HIDDEN_UNIT, assignee_name="")


# --- the board ------------------------------------------------------------------------


@router.get("/cases", response_class=HTMLResponse)
def board_page(
    request: Request,
    session: SessionDep,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    grade: Annotated[str, Query(max_length=40)] = "",
    unit_id: Annotated[str, Query(max_length=12)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    overdue: Annotated[str, Query(max_length=5)] = "",
) -> HTMLResponse:
    filters = {
        "q": q.strip(),
        "grade": grade,
        "unit_id": _unit_filter(principal, unit_id),
        "status": status if status in config.OPEN_STATUSES else "",
        "overdue": bool(overdue),
    }
    rows = [_masked(principal, r) for r in service.list_board_rows(session, principal=principal)]
    rows = _filtered(session, principal, rows, filters)
    mine = [r for r in rows if r.unit_id is not None and principal.sees_unit(r.unit_id)]
    units = org.list_visible_units(session, viewer=principal)
    return render(
        request,
        "cases/board.html",
        {
            "nav": "cases",
            "rows": rows,
            "mine": mine,
            "others": [r for r in rows if r not in mine],
            "overdue_count": sum(r.overdue for r in rows),
            "all_units": principal.visible_units is None,
            "filters": filters,
            "filtered": any(filters.values()),
            "grades": service.list_grades(session),
            "units": sorted(org.unit_labels(units).items(), key=lambda kv: kv[1]),
            "statuses": [(s, config.STATUSES[s]) for s in config.OPEN_STATUSES],
            "notice": request.query_params.get("notice"),
            "calendar_warning": calendar_service.get_warning(session, principal=principal),
            "keeps_calendar": calendar_service.may_edit(principal),
        },
    )


def _filtered(
    session: Session, principal: Principal, rows: list[BoardRow], filters: dict[str, Any]
) -> list[BoardRow]:
    if filters["q"]:
        found, _ = service.list_cases(
            session, principal=principal, q=filters["q"], closed=False, limit=1000
        )
        ids = {c.id for c in found}
        rows = [r for r in rows if r.case_id in ids]
    if filters["grade"]:
        wanted = None if filters["grade"] == "none" else filters["grade"]
        rows = [r for r in rows if r.grade_key == wanted]
    if filters["unit_id"] is not None:
        rows = [r for r in rows if r.unit_id == filters["unit_id"]]
    if filters["status"]:
        rows = [r for r in rows if r.status == filters["status"]]
    if filters["overdue"]:
        rows = [r for r in rows if r.overdue]
    return rows


# --- reporting ------------------------------------------------------------------------


def _new_form(
    request: Request,
    form: dict[str, str],
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    context = {"nav": "cases", "form": form, "error": error}
    return render(request, "cases/new.html", context, status_code=status_code)


@router.get("/cases/new", response_class=HTMLResponse)
def new_page(request: Request, principal: Reporter) -> HTMLResponse:
    return _new_form(request, {"title": "", "link": "", "summary": ""})


@router.post("/cases/new", response_class=HTMLResponse)
def report_case(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Reporter,
    title: Annotated[str, Form(max_length=300)] = "",
    link: Annotated[str, Form(max_length=2000)] = "",
    summary: Annotated[str, Form(max_length=10_000)] = "",
) -> Response:
    form = {"title": title, "link": link, "summary": summary}
    link = link.strip()
    if link and not link.lower().startswith(("http://", "https://")):
        return _new_form(request, form, error="链接须以 http:// 或 https:// 开头", status_code=422)
    try:
        case = service.open_case(
            session, principal=principal, title=title, link=link or None, summary=summary
        )
    except CasePermissionError as error:
        return refused(request, error.message)
    except CaseError as error:
        session.rollback()
        return _new_form(request, form, error=error.message, status_code=422)
    session.commit()
    return RedirectResponse(f"/cases/{case.id}?notice=已报送", status_code=303)


def _opened(request: Request, session: Session, principal: Principal, opener: Any) -> Response:
    """Open (or find) the case of a mention, event or alert and go to it."""
    return case_views.opened_case(request, session, principal, opener, missing="该条目不存在。")


@router.post("/mentions/{mention_id}/case", response_class=HTMLResponse)
def open_from_mention(
    request: Request, mention_id: int, session: SessionDep, _csrf: CsrfChecked, p: Reporter
) -> Response:
    return _opened(
        request,
        session,
        p,
        lambda: service.open_from_mention(session, principal=p, mention_id=mention_id),
    )


@router.post("/events/{event_id}/case", response_class=HTMLResponse)
def open_from_event(
    request: Request, event_id: int, session: SessionDep, _csrf: CsrfChecked, p: Reporter
) -> Response:
    return _opened(
        request,
        session,
        p,
        lambda: service.open_from_event(session, principal=p, event_id=event_id),
    )


@router.post("/alerts/{alert_id}/case", response_class=HTMLResponse)
def open_from_alert(
    request: Request, alert_id: int, session: SessionDep, _csrf: CsrfChecked, p: Reporter
) -> Response:
    return _opened(
        request,
        session,
        p,
        lambda: service.open_from_alert(session, principal=p, alert_id=alert_id),
    )


# --- the library, the ledger, the figures ---------------------------------------------


@router.get("/cases/library", response_class=HTMLResponse)
def library_page(
    request: Request,
    session: SessionDep,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    grade: Annotated[str, Query(max_length=40)] = "",
    unit_id: Annotated[str, Query(max_length=12)] = "",
    tag: Annotated[str, Query(max_length=60)] = "",
    page: Annotated[int, Query(ge=1, le=500)] = 1,
) -> HTMLResponse:
    unit = _unit_filter(principal, unit_id)
    cases, total = service.list_cases(
        session,
        principal=principal,
        closed=True,
        q=q,
        grade=grade or None,
        unit_id=unit,
        tag=tag or None,
        limit=LIBRARY_PAGE,
        offset=(page - 1) * LIBRARY_PAGE,
    )
    units = org.list_visible_units(session, viewer=principal)
    labels = org.unit_labels(units)
    params = {"q": q, "grade": grade, "unit_id": unit, "tag": tag}
    return render(
        request,
        "cases/library.html",
        {
            "nav": "cases",
            "cases": cases,
            "total": total,
            "page": page,
            "pages": total.pages(LIBRARY_PAGE),
            "params": params,
            "filters": params,
            "grades": service.list_grades(session),
            "grade_of": {g.id: g for g in service.list_grades(session)},
            "units": sorted(labels.items(), key=lambda kv: kv[1]),
            "unit_names": _unit_names(session, principal, cases),
        },
    )


def _unit_names(session: Session, principal: Principal, cases: list[Case]) -> dict[int, str]:
    """Case id → the name of its unit as this viewer may see it."""
    ids = {c.unit_id for c in cases if c.unit_id}
    units = {u.id: u.name for u in org.list_units(session) if u.id in ids}
    return {
        c.id: (units.get(c.unit_id, "") if sees_unit_of(principal, c) else config.HIDDEN_UNIT)
        for c in cases
        if c.unit_id
    }


@router.get("/cases/ledger.xlsx")
def ledger(
    session: SessionDep,
    principal: Reader,
    q: Annotated[str, Query(max_length=200)] = "",
    grade: Annotated[str, Query(max_length=40)] = "",
    unit_id: Annotated[str, Query(max_length=12)] = "",
    tag: Annotated[str, Query(max_length=60)] = "",
    closed: Annotated[str, Query(max_length=5)] = "",
) -> Response:
    data = excel.export_ledger(
        session,
        principal=principal,
        q=q or None,
        grade=grade or None,
        unit_id=_unit_filter(principal, unit_id),
        tag=tag or None,
        closed={"1": True, "0": False}.get(closed),
    )
    session.commit()  # the audit row of the export
    stamp = (to_local(utcnow()) or utcnow()).strftime("%Y%m%d")
    filename = f"舆情处置台账-{stamp}.xlsx"
    disposition = f"attachment; filename=\"cases.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        data,
        media_type=excel.XLSX_TYPE,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


def _month(text: str) -> date | None:
    try:
        year, month = (int(x) for x in text.strip().split("-"))
        return date(year, month, 1) if 2000 <= year <= 2100 else None
    except ValueError:
        return None


@router.get("/cases/accountability", response_class=HTMLResponse)
def accountability_page(
    request: Request,
    session: SessionDep,
    principal: Reader,
    month: Annotated[str, Query(max_length=7)] = "",
) -> HTMLResponse:
    today = (to_local(utcnow()) or utcnow()).date()
    chosen = _month(month) if month else date(today.year, today.month, 1)
    error = None
    if chosen is None:
        error = f"月份“{month}”格式不对，应为 YYYY-MM（如 2024-05）"
        chosen = date(today.year, today.month, 1)
    figures = [
        f
        for f in service.list_unit_figures(session, month=chosen)
        if principal.sees_unit(f.unit_id)
    ]
    used = {k for f in figures for k in (*f.met, *f.missed)}
    return render(
        request,
        "cases/accountability.html",
        {
            "nav": "cases",
            "figures": figures,
            "clocks": [(k, v) for k, v in config.CLOCKS.items() if k in used],
            "month": chosen.strftime("%Y-%m"),
            "all_units": principal.visible_units is None,
            "error": error,
        },
        status_code=422 if error else 200,
    )


# One case and its actions, after the fixed paths above.
router.include_router(case_views.router)
