"""Desk pages of reports (报告): the list, one report with its versions, edits, downloads.

A reader with ``reports.all`` reads the stored institution-wide report; any other reader
gets the version of its own units (``service.get_reader_content``), and making, editing or sending a
report needs both ``reports.manage`` and ``reports.all``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, HTTPException, Query, Request
from markupsafe import Markup
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import Forbidden, require
from yuqing.auth.schemas import Principal
from yuqing.auth.service import permission_label
from yuqing.core import audit
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import to_local, utcnow
from yuqing.events import service as events
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, render
from yuqing.reports import service
from yuqing.reports.cli import Format
from yuqing.reports.cli import render as render_file
from yuqing.reports.html import to_html
from yuqing.reports.models import Report
from yuqing.reports.schemas import KIND_LABELS, ReportAccessError, ReportContent, ReportError

router = APIRouter(include_in_schema=False)
CanRead = Annotated[Principal, Depends(require("mentions.read"))]


def _manager(principal: Annotated[Principal, Depends(require("reports.manage"))]) -> Principal:
    """A manager of the institution's reports: what is made and edited here is the report of
    every unit, so it also needs ``reports.all``."""
    if not service.whole(principal):
        raise Forbidden(
            f"您的账号没有“{permission_label(service.ALL)}”的权限：报告面向全校，"
            "生成、编辑与发送都需要该权限"
        )
    return principal


CanManage = Annotated[Principal, Depends(_manager)]
LIST_LIMIT = 200
MEDIA_TYPES = {
    Format.docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    Format.xlsx: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    Format.html: "text/html; charset=utf-8",
}


def _report_or_404(report_id: int, session: SessionDep) -> Report:
    report = service.get_report(session, report_id=report_id)
    if report is None:
        raise HTTPException(404, f"没有 ID 为 {report_id} 的报告")
    return report


CurrentReport = Annotated[Report, Depends(_report_or_404)]


def _today() -> date:
    return (to_local(utcnow()) or utcnow()).date()


def default_day(kind: str, today: date) -> date:
    """The day whose report the list's buttons make: yesterday's daily, this week's weekly,
    this month's monthly."""
    return today - timedelta(days=1) if kind == "daily" else today


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request, session: SessionDep, principal: CanRead) -> HTMLResponse:
    rows = service.list_reports(session, reader=principal, limit=LIST_LIMIT)
    today = _today()
    return render(
        request,
        "reports/list.html",
        {
            "nav": "reports",
            "rows": rows,
            "delivered": service.list_sent_report_ids(
                session, report_ids=[report.id for report, _ in rows]
            ),
            "kinds": KIND_LABELS,
            "days": {k: default_day(k, today).isoformat() for k in service.BUILDERS},
            "notice": request.query_params.get("notice"),
            "whole": service.whole(principal),
        },
    )


def _build(session: Session, kind: str, day: date, now: datetime) -> ReportContent:
    builder = service.BUILDERS.get(kind)
    if builder is None:
        raise ReportError(f"未知的报告类型 {kind!r}（应为日报、周报或月报）")
    return builder(session, day=day, now=now)


@router.post("/reports/generate", response_class=HTMLResponse)
def generate_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    _csrf: CsrfChecked,
    kind: Annotated[str, Form(max_length=10)] = "daily",
    day: Annotated[str, Form(alias="date", max_length=10)] = "",
) -> Response:
    """Make (or make again, as a new version) the daily, weekly or monthly report of a day."""
    try:
        wanted = date.fromisoformat(day) if day else default_day(kind, _today())
    except ValueError:
        return error_page(
            request, status_code=422, title="无法生成", message=f"日期 {day!r} 格式不对"
        )
    try:
        content = _build(session, kind, wanted, utcnow())
    except ReportError as error:
        session.rollback()
        return error_page(request, status_code=422, title="无法生成", message=str(error))
    report = service.create_report(session, content=content)
    _record(session, principal, "create", report, f"生成{content.title}")
    session.commit()
    return RedirectResponse(f"/reports/{report.id}?notice=已生成", status_code=303)


@router.post("/events/{event_id}/report", response_class=HTMLResponse)
def event_report_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,  # before the event: a refused client learns no ids
    event_id: int,
    _csrf: CsrfChecked,
) -> Response:
    """Make the special report (专报) of an event, or its next version, and open it."""
    if events.get(session, event_id=event_id) is None:
        return error_page(
            request, status_code=404, title="找不到事件", message=f"没有 ID 为 {event_id} 的事件"
        )
    try:
        content = service.event_report(session, event_id=event_id, now=utcnow())
    except ReportError as error:
        session.rollback()
        return error_page(request, status_code=422, title="无法生成专报", message=str(error))
    report = service.create_report(session, content=content, subject_id=event_id)
    _record(session, principal, "create", report, f"生成{content.title}")
    session.commit()
    return RedirectResponse(f"/reports/{report.id}?notice=已生成专报", status_code=303)


def _detail(
    request: Request,
    session: Session,
    report: Report,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    versions = service.list_versions(session, report=report)
    content = service.content_of(versions[0])
    editable = [
        (s, p, section.heading, paragraph.text)
        for s, section in enumerate(content.sections)
        for p, paragraph in enumerate(section.paragraphs)
        if paragraph.editable
    ]
    return render(
        request,
        "reports/detail.html",
        {
            "nav": "reports",
            "report": report,
            "kind_label": KIND_LABELS.get(report.kind, report.kind),
            "current": versions[0],
            # to_html escapes every text itself; Markup keeps Jinja from escaping it twice.
            "body": Markup(to_html(content)),
            "versions": versions,
            "delivery": service.get_delivery_status(session, report=report),
            "editable": editable,
            "formats": [f.value for f in Format],
            "problem": problem,
            "notice": request.query_params.get("notice"),
        },
        status_code=status_code,
    )


def _readers_version(session: Session, report: Report, reader: Principal) -> ReportContent:
    try:
        return service.get_reader_content(session, report=report, reader=reader, now=utcnow())
    except ReportAccessError as error:
        raise Forbidden(error.message) from None


@router.get("/reports/{report_id}", response_class=HTMLResponse)
def report_page(
    request: Request, session: SessionDep, principal: CanRead, report: CurrentReport
) -> HTMLResponse:
    if service.whole(principal):
        return _detail(request, session, report)
    content = _readers_version(session, report, principal)
    return render(
        request,
        "reports/unit.html",
        {
            "nav": "reports",
            "report": report,
            "content": content,
            "kind_label": KIND_LABELS.get(report.kind, report.kind),
            "body": Markup(to_html(content)),  # escaped by to_html
            "formats": [f.value for f in Format],
        },
    )


@router.post("/reports/{report_id}/edit", response_class=HTMLResponse)
def edit_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    report: CurrentReport,
    _csrf: CsrfChecked,
    section: Annotated[int, Form(ge=0, le=100)],
    paragraph: Annotated[int, Form(ge=0, le=1000)],
    text: Annotated[str, Form(max_length=5000)] = "",
) -> Response:
    """An editor's change of one editable paragraph: a new version; the sent one stays."""
    refusal = _edit_refusal(session, report, section, paragraph, text)
    if refusal:
        return _detail(request, session, report, problem=refusal, status_code=422)
    version = service.update_paragraph(
        session,
        report=report,
        section=section,
        paragraph=paragraph,
        text=text.strip(),
        editor=principal.display_name or principal.username,
    )
    _record(session, principal, "update", report, f"编辑报告，生成第 {version.number} 版")
    session.commit()
    return RedirectResponse(f"/reports/{report.id}?notice=已保存为新版本", status_code=303)


def _edit_refusal(
    session: Session, report: Report, section: int, paragraph: int, text: str
) -> str | None:
    if not text.strip():
        return "段落内容不能为空"
    content = service.content_of(service.get_latest_version(session, report=report))
    sections = content.sections
    if section >= len(sections) or paragraph >= len(sections[section].paragraphs):
        return f"报告 {report.id} 没有第 {section + 1} 部分第 {paragraph + 1} 段"
    if not sections[section].paragraphs[paragraph].editable:
        return f"第 {section + 1} 部分第 {paragraph + 1} 段是引用的原文与统计数字，不能编辑"
    return None


@router.post("/reports/{report_id}/sent", response_class=HTMLResponse)
def sent_form(
    request: Request,
    session: SessionDep,
    principal: CanManage,
    report: CurrentReport,
    _csrf: CsrfChecked,
) -> Response:
    """Mark the current version as the one sent out."""
    version = service.update_sent_version(session, report=report, now=utcnow())
    _record(session, principal, "update", report, f"标记第 {version.number} 版为已发送")
    session.commit()
    return RedirectResponse(f"/reports/{report.id}?notice=已标记为已发送", status_code=303)


@router.get("/reports/{report_id}/download")
def download(
    session: SessionDep,
    principal: CanRead,
    report: CurrentReport,
    fmt: Annotated[Format, Query(alias="format")] = Format.docx,
) -> Response:
    """The reader's version as a file (for ``reports.all``: the current stored version);
    every export is an audit row."""
    content = _readers_version(session, report, principal)
    try:
        data = render_file(content, fmt)
    except ReportError as error:
        raise HTTPException(422, str(error)) from None
    which = (
        f"第 {service.get_latest_version(session, report=report).number} 版"
        if service.whole(principal)
        else ""
    )
    _record(session, principal, "export", report, f"下载{content.title}{which}（{fmt}）")
    session.commit()
    return Response(
        data,
        media_type=MEDIA_TYPES[fmt],
        headers={
            "Content-Disposition": disposition(content.title, report, fmt.value),
            "Cache-Control": "no-store",
        },
    )


def disposition(title: str, report: Report, ext: str) -> str:
    """An attachment header: an ASCII fallback name, and the Chinese title per RFC 5987."""
    fallback = f"report-{report.id}.{ext}"
    encoded = quote(f"{title}.{ext}", safe="")
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"


def _record(
    session: Session, principal: Principal, action: str, report: Report, summary: str
) -> None:
    audit.record(
        session,
        actor=principal.actor,
        action=action,
        object_type="report",
        object_id=report.id,
        summary=summary,
    )
