"""Desk pages of the working calendar (工作日历): the years held, one year's days, adding and
removing a day, importing a notice file, filling years from the package.

Only the office edits it (``calendar_service.may_edit``); a refused edit (CalendarError) shows
the page again with the reason (422) and nothing changed.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.cases import calendar, calendar_service, schedule
from yuqing.cases.schemas import CaseError, CasePermissionError
from yuqing.core.database import SessionDep
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import refused, render

router = APIRouter(include_in_schema=False)

Manager = Annotated[Principal, Depends(require("cases.manage"))]
PAGE = "/calendar"


def _page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    year: int | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    current = calendar_service.current_date()
    years = calendar_service.list_years(session)
    # From December the year to enter is the next one.
    shown = year or (current.year + 1 if current.month == 12 else current.year)
    stored = {y.year for y in years}
    package = calendar.package_calendar()
    context: dict[str, Any] = {
        "nav": "cases",
        "warning": calendar_service.get_coverage_warning(session, today=current),
        "years": years,
        "year": shown,
        "year_known": shown in stored,
        "days": calendar_service.list_days(session, year=shown),
        "weekdays": schedule.WEEKDAYS,
        "may_edit": calendar_service.may_edit(principal),
        "package_version": schedule.package_version(),
        "package_years": sorted(package.years),
        "package_new": sorted(package.years - stored),
        "example": schedule.EXAMPLE,
        "max_kb": schedule.MAX_BYTES // 1024,
        "notice": request.query_params.get("notice"),
        "error": error,
        "today": current,
    }
    return render(request, "cases/calendar.html", context, status_code=status_code)


@router.get(PAGE, response_class=HTMLResponse)
def calendar_page(
    request: Request,
    session: SessionDep,
    principal: Manager,
    year: Annotated[int | None, Query(ge=schedule.FIRST_YEAR, le=schedule.LAST_YEAR)] = None,
) -> HTMLResponse:
    return _page(request, session, principal, year=year)


def _edit(
    request: Request,
    session: Session,
    principal: Principal,
    action: Any,
    *,
    year: int | None,
) -> Response:
    """Run one edit: commit and go back to the year with what changed, or say why not."""
    try:
        notice = action()
    except CasePermissionError as error:
        session.rollback()
        return refused(request, error.message)
    except CaseError as error:
        session.rollback()
        return _page(request, session, principal, year=year, error=error.message, status_code=422)
    session.commit()
    target = f"{PAGE}?year={year}&" if year else f"{PAGE}?"
    return RedirectResponse(f"{target}notice={quote(notice)}", status_code=303)


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise calendar_service.CalendarError(
            "calendar_date", f"“{value[:20]}”不是有效日期，应为 年-月-日，例如 2027-02-06"
        ) from error


def _moved(count: int) -> str:
    return f"；{count} 个进行中的时限已按新日历重新计算" if count else ""


@router.post(f"{PAGE}/days", response_class=HTMLResponse)
def add_day(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    day: Annotated[str, Form(max_length=20)] = "",
    kind: Annotated[str, Form(max_length=4)] = schedule.OFF,
    name: Annotated[str, Form(max_length=60)] = "",
) -> Response:
    def action() -> str:
        found = _day(day)
        if kind not in schedule.KINDS:
            raise calendar_service.CalendarError("calendar_kind", "类型只能是“休”或“班”")
        calendar_service.update_day(
            session, by=principal, day=found, working=schedule.KINDS[kind], name=name
        )
        return f"已将 {found.isoformat()} 设为“{kind}”"

    return _edit(request, session, principal, action, year=_year_of(day))


@router.post(f"{PAGE}/days/delete", response_class=HTMLResponse)
def remove_day(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    day: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    def action() -> str:
        found = _day(day)
        calendar_service.delete_day(session, by=principal, day=found)
        return f"已删除 {found.isoformat()}"

    return _edit(request, session, principal, action, year=_year_of(day))


@router.post(f"{PAGE}/years/delete", response_class=HTMLResponse)
def remove_year(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    year: Annotated[int, Form(ge=schedule.FIRST_YEAR, le=schedule.LAST_YEAR)],
) -> Response:
    def action() -> str:
        calendar_service.delete_year(session, by=principal, year=year)
        return f"已删除 {year} 年的全部安排，该年时限将按周一至周五计算"

    return _edit(request, session, principal, action, year=year)


@router.post(f"{PAGE}/import", response_class=HTMLResponse)
async def import_file(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    file: Annotated[UploadFile | None, File()] = None,
    text: Annotated[str, Form(max_length=schedule.MAX_BYTES)] = "",
) -> Response:
    """A notice file uploaded, or the same lines pasted into the text box."""
    data, filename = text.encode(), ""
    if file is not None and file.filename:
        data, filename = await file.read(schedule.MAX_BYTES + 1), file.filename[-150:]

    def action() -> str:
        result = calendar_service.import_text(session, by=principal, data=data, filename=filename)
        years = "、".join(str(y) for y in result.years) or "（无整年替换）"
        return f"已导入 {years} 年：休 {result.days_off} 天，班 {result.working_days} 天" + _moved(
            result.moved_deadlines
        )

    year = _first_year(data)
    return _edit(request, session, principal, action, year=year)


@router.post(f"{PAGE}/seed", response_class=HTMLResponse)
def seed(request: Request, session: SessionDep, _csrf: CsrfChecked, principal: Manager) -> Response:
    def action() -> str:
        years = calendar_service.seed_from_package(session, by=principal)
        if not years:
            return f"{schedule.package_version()} 没有工作日历缺少的年份"
        return f"已从 {schedule.package_version()} 补充 {'、'.join(str(y) for y in years)} 年"

    return _edit(request, session, principal, action, year=None)


def _year_of(value: str) -> int | None:
    head = value.strip()[:4]
    return int(head) if head.isdigit() and schedule.FIRST_YEAR <= int(head) <= 2100 else None


def _first_year(data: bytes) -> int | None:
    """The year to show after an import: the first year the file replaces, if it reads."""
    try:
        years = schedule.parse(schedule.decode(data)).years
    except schedule.ScheduleFileError:
        return None
    return years[0] if years else None
