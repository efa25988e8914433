"""The administrator's page 备份与数据保留: backups (last success, size, recent runs, a
backup now), retention rules, the pseudonymised export and erasure on request."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep, new_session
from yuqing.core.settings import get_settings
from yuqing.core.timeutil import utcnow
from yuqing.maintenance import backup as backups
from yuqing.maintenance import people, retention
from yuqing.maintenance import service as maintenance
from yuqing.pagekit.csrf import CsrfChecked
from yuqing.pagekit.templating import render

router = APIRouter(include_in_schema=False)

Administrator = Annotated[Principal, Depends(require(maintenance.MANAGE))]
NOTICES = {
    "backup": "备份已完成。",
    "rules": "保留期限已保存。",
}


def _page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    notice: str | None = None,
    found: people.Found | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    settings = get_settings()
    context: dict[str, Any] = {
        "nav": "maintenance",
        "last_ok": maintenance.get_last_backup(session),
        "last_any": maintenance.get_last_backup(session, ok=False),
        "runs": maintenance.list_backup_runs(session, limit=10),
        "folder": str(backups.backup_dir(settings)),
        "keep": settings.backup_keep,
        "hour": settings.backup_hour,
        "purge_hour": settings.purge_hour,
        "rules": retention.list_rules(session),
        "unfinished": retention.list_unfinished(session),
        "typed": typed or {},
        "found": found,
        "error": error,
        "notice": notice,
    }
    return render(request, "maintenance/page.html", context, status_code=status_code)


@router.get("/admin/maintenance", response_class=HTMLResponse)
def maintenance_page(request: Request, session: SessionDep, _: Administrator) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("done", ""))
    return _page(request, session, notice=notice)


@router.post("/admin/maintenance/backup", response_class=HTMLResponse)
def backup_now(
    request: Request, session: SessionDep, _: Administrator, _csrf: CsrfChecked
) -> Response:
    session.close()  # the copy holds no transaction of this request
    try:
        maintenance.run_backup(new_session, trigger="manual")
    except maintenance.BackupError as error:
        return _page(request, session, error=str(error), status_code=500)
    return RedirectResponse("/admin/maintenance?done=backup", status_code=303)


@router.post("/admin/maintenance/retention", response_class=HTMLResponse)
async def save_rules(
    request: Request, session: SessionDep, principal: Administrator, _csrf: CsrfChecked
) -> Response:
    form = await request.form()
    typed = {kind: str(form.get(f"days_{kind}", "")) for kind in retention.RETENTION_KINDS}
    try:
        for rule in retention.list_rules(session):
            value = typed[rule.kind].strip()
            if value and value != str(rule.days):
                retention.update_rule(session, kind=rule.kind, days=value, actor=principal.actor)
    except retention.RetentionError as error:
        session.rollback()
        label = next(r.label for r in retention.list_rules(session) if r.kind == rule.kind)
        return _page(request, session, error=f"{label}：{error}", typed=typed, status_code=422)
    session.commit()
    return RedirectResponse("/admin/maintenance?done=rules", status_code=303)


@router.get("/admin/maintenance/people", response_class=HTMLResponse)
def find_person(
    request: Request, session: SessionDep, _: Administrator, name: str = ""
) -> HTMLResponse:
    try:
        found = people.find_person(session, name=name)
    except people.PeopleError as error:
        return _page(request, session, error=str(error), status_code=422)
    return _page(request, session, found=found)


@router.post("/admin/maintenance/erase", response_class=HTMLResponse)
def erase_person(
    request: Request,
    session: SessionDep,
    principal: Administrator,
    _csrf: CsrfChecked,
    name: Annotated[str, Form(max_length=400)] = "",
    confirm: Annotated[str, Form(max_length=400)] = "",
) -> Response:
    if not name.strip() or confirm.strip() != name.strip():
        return _page(
            request,
            session,
            error="请在确认框中再输入一次同样的名字，以确认删除（删除不可恢复）",
            status_code=422,
        )
    try:
        found = people.erase_person(session, name=name, actor=principal.actor)
    except people.PeopleError as error:
        session.rollback()
        return _page(request, session, error=str(error), status_code=422)
    session.commit()
    notice = (
        f"已删除“{found.name}”发布的信息 {found.mentions - found.kept_by_cases} 条；"
        f"{found.kept_by_cases} 条为处置记录保留（已去掉原始数据）。"
    )
    return _page(request, session, notice=notice)


@router.post("/admin/maintenance/export", response_class=HTMLResponse)
def export_pseudonymised(
    request: Request,
    session: SessionDep,
    principal: Administrator,
    _csrf: CsrfChecked,
    kind: Annotated[str, Form(max_length=20)] = "mentions",
    days: Annotated[str, Form(max_length=10)] = "30",
) -> Response:
    try:
        span = int(days)
    except ValueError:
        span = 0
    if kind not in ("mentions", "events") or not 1 <= span <= 3660:
        return _page(
            request, session, error="导出范围应为 1–3660 天，类别为信息或事件", status_code=422
        )
    end = utcnow() + timedelta(seconds=1)
    start = end - timedelta(days=span)
    writer = people.export_mentions if kind == "mentions" else people.export_events
    body = writer(session, start=start, end=end, actor=principal.actor)
    session.commit()
    name = f"pseudonymised-{kind}-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(
        body.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
