"""Desk pages of the audit log (审计日志): search, verify the chain, export."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, Response

from yuqing.audit import search, words
from yuqing.audit.filters import AuditFilterError, AuditQuery, AuditQueryDep, audit_query
from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core import audit
from yuqing.core.counting import Count
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import utcnow
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import error_page, render

router = APIRouter()

Auditor = Annotated[Principal, Depends(require("audit.read"))]
_NO_STORE = {"Cache-Control": "no-store"}

_AUDIT_PAGE_SIZE = 50


def _audit_rows(
    session: Session, entries: list[audit.AuditEntry]
) -> list[tuple[audit.AuditEntry, list[tuple[str, str, str]]]]:
    """Each row with its changes in words: the field's Chinese name, the values before and
    after as people read them (names for ids, local time to the minute)."""
    changes = {e.seq: search.changes_of(e) for e in entries}
    names = words.Names(
        session, [(e.object_type, *change) for e in entries for change in changes[e.seq]]
    )
    return [
        (
            entry,
            [
                (
                    words.field_label(name),
                    names.value(entry.object_type, name, before),
                    names.value(entry.object_type, name, after),
                )
                for name, before, after in changes[entry.seq]
            ],
        )
        for entry in entries
    ]


def _audit_page(
    request: Request,
    session: Session,
    wanted: AuditQuery,
    *,
    page: int = 1,
    verify_report: audit.VerifyReport | None = None,
) -> HTMLResponse:
    error, rows, total = None, [], Count(0)
    try:
        filters = wanted.filters()
    except AuditFilterError as refused:
        error, filters = str(refused), None
    if filters is not None:
        total = search.count_entries(session, filters=filters)
        offset = (page - 1) * _AUDIT_PAGE_SIZE
        rows = _audit_rows(
            session,
            search.list_entries(session, filters=filters, limit=_AUDIT_PAGE_SIZE, offset=offset),
        )
    return render(
        request,
        "audit/list.html",
        {
            "rows": rows,
            "total": total,
            "page": page,
            "pages": total.pages(_AUDIT_PAGE_SIZE),
            "wanted": wanted,
            "params": wanted.params(),
            "actions": audit.ACTIONS,
            "object_types": {t: words.object_label(t) for t in search.list_object_types(session)},
            "object_label": words.object_label,
            "error": error,
            "verify_report": verify_report,
            "nav": "audit",
        },
        status_code=422 if error else 200,
    )


@router.get("/admin/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    session: SessionDep,
    principal: Auditor,
    wanted: AuditQueryDep,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    return _audit_page(request, session, wanted, page=page)


@router.post("/admin/audit/verify", response_class=HTMLResponse)
def audit_verify(
    request: Request, session: SessionDep, principal: Auditor, _csrf: CsrfChecked
) -> HTMLResponse:
    report = audit.verify(session)
    session.expire_all()  # verify detaches the rows it read
    return _audit_page(request, session, AuditQuery(), verify_report=report)


_EXPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@router.post("/admin/audit/export")
async def audit_export(
    request: Request, session: SessionDep, principal: Auditor, _csrf: CsrfChecked
) -> Response:
    """The filtered rows as .xlsx or .csv; the export itself is audited."""
    form = await request.form()
    fields = {k: str(form.get(k) or "") for k in AuditQuery.__dataclass_fields__}
    wanted = audit_query(**fields)
    kind = "csv" if form.get("format") == "csv" else "xlsx"
    try:
        filters = wanted.filters()
    except AuditFilterError as refused:
        return error_page(request, status_code=422, title="无法导出", message=str(refused))
    rows = search.export_rows(session, filters=filters)
    body = search.to_csv(rows) if kind == "csv" else search.to_xlsx(rows)
    conditions = "，".join(f"{k}={v}" for k, v in wanted.params().items()) or "全部"
    audit.record(
        session,
        actor=principal.actor,
        action="export",
        object_type="audit",
        summary=f"导出审计日志 {len(rows) - 1} 条（{kind}），条件：{conditions}",
    )
    session.commit()
    name = f"audit-{utcnow():%Y%m%d-%H%M%S}.{kind}"
    return Response(
        body,
        media_type=_EXPORT_TYPES[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}"', **_NO_STORE},
    )
