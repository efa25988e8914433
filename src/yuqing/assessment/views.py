"""Desk pages of the team's roster work (队伍建设): quota compliance, registration rounds and
change requests. The services in org decide access (OrgAccessError → 404, permission → 403,
refused input → 400 with the reason); routes also declare the permission they need."""

from __future__ import annotations

from datetime import datetime, time
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import local_zone, to_utc_naive, utcnow
from yuqing.org import changes, excel, files, quota, rounds
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked, check_csrf
from yuqing.pagekit.templating import error_page, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require("team.read"))]
UnitHand = Annotated[Principal, Depends(require("team.unit"))]
Office = Annotated[Principal, Depends(require("team.manage"))]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
NOTICES = {
    "rule": "定额规则已保存。",
    "headcounts": "学生人数已导入。",
    "round": "已发起登记。",
    "uploaded": "登记表已导入本单位人员名单。",
    "submitted": "登记表已提交，等待宣传部受理。",
    "accepted": "登记表已受理。",
    "returned": "登记表已退回。",
    "proposed": "变更申请已提交。",
    "approved": "变更已批准并备案。",
    "refused": "变更申请未获批准。",
}
Refusal = (org.OrgError, org.OrgAccessError, org.OrgPermissionError, ValueError)


def page(
    request: Request, template: str, context: dict[str, object], *, status_code: int = 200
) -> HTMLResponse:
    notice = NOTICES.get(request.query_params.get("ok", ""))
    return render(
        request,
        f"team/{template}",
        {"nav": "team", "notice": notice, "error": None, **context},
        status_code=status_code,
    )


def refusal(request: Request, error: Exception) -> HTMLResponse:
    """The answer to a refused action: 404 for what the viewer cannot see, 403 for what
    their role may not do, 400 with the reason for bad input (nothing was stored)."""
    if isinstance(error, org.OrgAccessError | LookupError):
        return error_page(request, status_code=404, title="找不到", message=str(error))
    if isinstance(error, PermissionError):
        return error_page(request, status_code=403, title="无权操作", message=str(error))
    return error_page(request, status_code=400, title="未能完成", message=str(error))


def done(path: str, notice: str) -> RedirectResponse:
    joiner = "&" if "?" in path else "?"
    return RedirectResponse(f"{path}{joiner}ok={notice}", status_code=303)


def local_date(text: str, *, end_of_day: bool = False) -> datetime:
    """A YYYY-MM-DD from a form as naive UTC (the local day's start, or its last second)."""
    try:
        day = datetime.strptime(text.strip(), "%Y-%m-%d").date()
    except ValueError:
        raise org.OrgError(f"日期“{text}”格式不对，应为 2026-12-31") from None
    moment = time(23, 59, 59) if end_of_day else time()
    return to_utc_naive(datetime.combine(day, moment, local_zone()))


def _int(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.isdigit() and len(value) < 12 else None


# --- compliance -----------------------------------------------------------------------


@router.get("/team", response_class=HTMLResponse)
def overview(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    # Reads only: the default rules are stored by `yuqing init` and by the writes that add
    # a unit or a rule (quota.ensure_defaults), never by looking at the page.
    office = principal.can("team.manage") and principal.visible_units is None
    return page(
        request,
        "overview.html",
        {
            "units": quota.list_compliance(session, viewer=principal),
            "rules": quota.list_rules(session) if office else [],
            "roles": org.list_duty_role_names(session),
            "kinds": {k.id: k.name for k in org.list_kinds(session)},
            "unit_names": org.list_unit_names(session) if office else {},
            "office": office,
        },
    )


@router.get("/team/quotas.xlsx")
def export_quotas(session: SessionDep, principal: Reader) -> Response:
    data = quota.export_compliance(session, viewer=principal)
    session.commit()
    name = quote("定额落实情况.xlsx")
    disposition = f"attachment; filename*=UTF-8''{name}"
    return Response(data, media_type=XLSX, headers={"content-disposition": disposition})


@router.post("/team/quotas", response_class=HTMLResponse)
def save_rule(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    duty_role_id: Annotated[str, Form(max_length=12)] = "",
    unit_kind_id: Annotated[str, Form(max_length=12)] = "",
    unit_id: Annotated[str, Form(max_length=12)] = "",
    fixed: Annotated[str, Form(max_length=6)] = "0",
    per_students: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    try:
        quota.save_rule(
            session,
            viewer=principal,
            duty_role_id=_int(duty_role_id) or 0,
            unit_kind_id=_int(unit_kind_id),
            unit_id=_int(unit_id),
            fixed=-1 if _int(fixed) is None else int(fixed),
            per_students=_int(per_students),
        )
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done("/team", "rule")


@router.post("/team/headcounts", response_class=HTMLResponse)
async def import_headcounts(request: Request, session: SessionDep, principal: Office) -> Response:
    await check_csrf(request)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return refusal(request, org.OrgError("请选择含“单位”“学生人数”两列的 .xlsx 文件"))
    try:
        problems = quota.import_headcounts(
            session, viewer=principal, data=await upload.read(), filename=upload.filename[-200:]
        )
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    if problems:
        return error_page(
            request, status_code=200, title="部分行未导入", message="；".join(problems[:50])
        )
    return done("/team", "headcounts")


# --- registration rounds --------------------------------------------------------------


@router.get("/team/rounds", response_class=HTMLResponse)
def rounds_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    office = principal.can("team.manage") and principal.visible_units is None
    listed = []
    for found in rounds.list_rounds(session):
        forms = rounds.list_forms(session, round_id=found.id, viewer=principal)
        pending = [f for f in forms if f.status in ("draft", "returned")]
        listed.append((found, forms, pending))
    return page(
        request,
        "rounds.html",
        {
            "rounds": listed,
            "names": org.unit_labels(org.list_visible_units(session, viewer=principal)),
            "labels": rounds.STATUS_LABELS,
            "office": office,
            "now": utcnow(),
        },
    )


@router.post("/team/rounds", response_class=HTMLResponse)
def open_round(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    title: Annotated[str, Form(max_length=300)] = "",
    deadline: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    try:
        rounds.open_round(
            session,
            viewer=principal,
            title=title,
            deadline=local_date(deadline, end_of_day=True),
        )
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done("/team/rounds", "round")


def _form_context(
    session: Session, principal: Principal, round_id: int, unit_id: int
) -> dict[str, object]:
    form = rounds.get_visible_form(session, viewer=principal, round_id=round_id, unit_id=unit_id)
    found = rounds.get_round(session, round_id=round_id)
    unit = org.get_visible_unit(session, viewer=principal, unit_id=unit_id)
    people = [p for p in org.list_people(session, unit_id=unit_id) if p.active]
    return {
        "form": form,
        "round": found,
        "unit": unit,
        "people": people,
        "roles_of": org.list_duty_roles_of(session, person_ids=[p.id for p in people]),
        "rows": rounds.rows_of(form),
        "labels": rounds.STATUS_LABELS,
        "compliance": quota.list_compliance(
            session, viewer=principal, unit_ids=frozenset({unit_id})
        ),
        "can_fill": principal.can("team.unit") and form.status in ("draft", "returned"),
        "office": principal.can("team.manage") and principal.visible_units is None,
    }


@router.get("/team/rounds/{round_id}/units/{unit_id}", response_class=HTMLResponse)
def form_page(
    request: Request, round_id: int, unit_id: int, session: SessionDep, principal: Reader
) -> Response:
    try:
        context = _form_context(session, principal, round_id, unit_id)
    except Refusal as error:
        return refusal(request, error)
    return page(request, "form.html", context)


async def _upload(request: Request) -> tuple[bytes, str, dict[str, str]]:
    await check_csrf(request)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    if not isinstance(upload, UploadFile) or not upload.filename:
        return b"", "", fields
    return await upload.read(), upload.filename[-200:], fields


@router.post("/team/rounds/{round_id}/units/{unit_id}/upload", response_class=HTMLResponse)
async def upload_form(
    request: Request, round_id: int, unit_id: int, session: SessionDep, principal: UnitHand
) -> Response:
    try:
        form = rounds.get_visible_form(
            session, viewer=principal, round_id=round_id, unit_id=unit_id
        )
        data, filename, _ = await _upload(request)
        if not data:
            raise org.OrgError("请选择要导入的登记表（.xlsx）")
        report = rounds.upload(session, viewer=principal, form=form, data=data, filename=filename)
    except (*Refusal, excel.RosterFileError) as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    context = _form_context(session, principal, round_id, unit_id)
    return page(request, "form.html", {**context, "report": report})


@router.post("/team/rounds/{round_id}/units/{unit_id}/submit", response_class=HTMLResponse)
async def submit_form(
    request: Request, round_id: int, unit_id: int, session: SessionDep, principal: UnitHand
) -> Response:
    try:
        form = rounds.get_visible_form(
            session, viewer=principal, round_id=round_id, unit_id=unit_id
        )
        data, filename, _ = await _upload(request)
        rounds.submit(session, viewer=principal, form=form, scan=data, scan_name=filename)
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done(f"/team/rounds/{round_id}/units/{unit_id}", "submitted")


@router.post("/team/rounds/{round_id}/units/{unit_id}/decide", response_class=HTMLResponse)
def decide_form(
    request: Request,
    round_id: int,
    unit_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    action: Annotated[str, Form(max_length=10)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        form = rounds.get_visible_form(
            session, viewer=principal, round_id=round_id, unit_id=unit_id
        )
        if action == "accept":
            rounds.accept(session, viewer=principal, form=form)
        elif action == "return":
            rounds.return_(session, viewer=principal, form=form, reason=reason)
        else:
            raise org.OrgError("请选择受理或退回")
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    notice = "accepted" if action == "accept" else "returned"
    return done(f"/team/rounds/{round_id}/units/{unit_id}", notice)


@router.get("/team/rounds/{round_id}/units/{unit_id}/scan")
def form_scan(
    request: Request, round_id: int, unit_id: int, session: SessionDep, principal: Reader
) -> Response:
    try:
        form = rounds.get_visible_form(
            session, viewer=principal, round_id=round_id, unit_id=unit_id
        )
    except Refusal as error:
        return refusal(request, error)
    if not form.scan_stored:
        return error_page(request, status_code=404, title="找不到", message="尚未上传扫描件。")
    suffix = form.scan_stored.rsplit(".", 1)[-1]
    kinds = {"pdf": "application/pdf", "png": "image/png"}
    name = quote(form.scan_name or f"scan.{suffix}")
    return Response(
        files.read("scans", form.scan_stored),
        media_type=kinds.get(suffix, "image/jpeg"),
        headers={"content-disposition": f"attachment; filename*=UTF-8''{name}"},
    )


# --- change requests and the ledger ---------------------------------------------------


@router.get("/team/changes", response_class=HTMLResponse)
def changes_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    units = org.list_visible_units(session, viewer=principal)
    people = [p for p in org.list_visible_people(session, viewer=principal) if p.active]
    return page(
        request,
        "changes.html",
        {
            "requests": changes.list_requests(session, viewer=principal),
            "names": org.unit_labels(units),
            "units": units,
            "people": people,
            "person_names": {
                p.id: p.name for p in org.list_visible_people(session, viewer=principal)
            },
            "roles": org.list_duty_role_names(session),
            "kinds": changes.KINDS,
            "labels": changes.STATUS_LABELS,
            "can_propose": principal.can("team.unit"),
            "office": principal.can("team.manage") and principal.visible_units is None,
        },
    )


@router.post("/team/changes", response_class=HTMLResponse)
def propose_change(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: UnitHand,
    unit_id: Annotated[str, Form(max_length=12)] = "",
    kind: Annotated[str, Form(max_length=10)] = "",
    duty_role_id: Annotated[str, Form(max_length=12)] = "",
    person_id: Annotated[str, Form(max_length=12)] = "",
    new_person_id: Annotated[str, Form(max_length=12)] = "",
    new_person_name: Annotated[str, Form(max_length=100)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        changes.propose(
            session,
            viewer=principal,
            unit_id=_int(unit_id) or 0,
            kind=kind,
            duty_role_id=_int(duty_role_id) or 0,
            person_id=_int(person_id),
            new_person_id=_int(new_person_id),
            new_person_name=new_person_name,
            reason=reason,
        )
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done("/team/changes", "proposed")


@router.post("/team/changes/{change_id}/decide", response_class=HTMLResponse)
def decide_change(
    request: Request,
    change_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    action: Annotated[str, Form(max_length=10)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        found = changes.get_visible_request(session, viewer=principal, request_id=change_id)
        if action == "approve":
            changes.approve(session, viewer=principal, request=found, note=note)
        elif action == "refuse":
            changes.refuse(session, viewer=principal, request=found, note=note)
        else:
            raise org.OrgError("请选择批准或不批准")
    except Refusal as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done("/team/changes", "approved" if action == "approve" else "refused")


@router.get("/team/ledger.xlsx")
def ledger_on(request: Request, session: SessionDep, principal: Reader) -> Response:
    text = request.query_params.get("on", "").strip()
    try:
        on = local_date(text, end_of_day=True) if text else utcnow()
    except org.OrgError as error:
        return refusal(request, error)
    label = text or "当前"
    data = excel.export_ledger_on(session, viewer=principal, on=on, label=label)
    session.commit()
    name = quote(f"台账{text}.xlsx")
    return Response(
        data,
        media_type=XLSX,
        headers={"content-disposition": f"attachment; filename*=UTF-8''{name}"},
    )
