"""Desk pages of training, the month's credit and the bulletin (培训、月度考核、月度通报).
A unit's account sees its own units' people and figures only; the bulletin and the ranking
cover every unit, so they are for accounts that see every unit."""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from openpyxl import Workbook
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.assessment import bulletin, config, service, training
from yuqing.assessment.schemas import AssessmentError, Month
from yuqing.assessment.views import XLSX, Office, Reader, Refusal, done, local_date, page, refusal
from yuqing.auth.deps import SignedIn, require
from yuqing.auth.schemas import Principal
from yuqing.core import xlsx
from yuqing.core.database import SessionDep
from yuqing.core.timeutil import format_local, local_zone, to_local, to_utc_naive, utcnow
from yuqing.org import files
from yuqing.org import service as org
from yuqing.pagekit.csrf import CsrfChecked, check_csrf
from yuqing.pagekit.templating import error_page
from yuqing.reports.docx import to_docx
from yuqing.system import service as system

router = APIRouter(include_in_schema=False)
Reporter = Annotated[Principal, Depends(require("cases.report"))]
Refused = (*Refusal, AssessmentError)


def _office(principal: Principal) -> bool:
    return principal.can("team.manage") and principal.visible_units is None


def _all_units(request: Request, principal: Principal) -> Response | None:
    """The bulletin and ranking name every unit: refused to a unit's account."""
    if principal.visible_units is not None:
        return error_page(
            request,
            status_code=403,
            title="无权查看",
            message="月度通报与排名只供宣传部和校领导查看。",
        )
    return None


def _month(request: Request) -> Month:
    text = request.query_params.get("m", "")
    if not text:
        today = (to_local(utcnow()) or utcnow()).date()
        return Month.of(today)
    return Month.parse(text)


def _person_of(session: SessionDep, principal: Principal) -> int | None:
    from yuqing.auth.models import User  # the account's person (accounts sit below us)

    user = session.get(User, principal.user_id)
    return user.person_id if user else None


# --- training -------------------------------------------------------------------------


@router.get("/team/training", response_class=HTMLResponse)
def training_list(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    return page(
        request,
        "training_list.html",
        {
            "sessions": training.list_sessions(session),
            "kinds": config.TRAINING_KINDS,
            "office": _office(principal),
        },
    )


@router.post("/team/training", response_class=HTMLResponse)
def create_training(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    topic: Annotated[str, Form(max_length=300)] = "",
    kind: Annotated[str, Form(max_length=20)] = "",
    starts_at: Annotated[str, Form(max_length=20)] = "",
    place: Annotated[str, Form(max_length=200)] = "",
    link: Annotated[str, Form(max_length=500)] = "",
    trainer: Annotated[str, Form(max_length=100)] = "",
) -> Response:
    try:
        try:
            moment = datetime.strptime(starts_at.strip(), "%Y-%m-%dT%H:%M")
        except ValueError:
            raise AssessmentError("请填写培训时间（年-月-日 时:分）") from None
        found = training.create_session(
            session,
            viewer=principal,
            topic=topic,
            kind=kind,
            starts_at=to_utc_naive(moment.replace(tzinfo=local_zone())),
            place=place,
            link=link,
            trainer=trainer,
        )
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/training/{found.id}", status_code=303)


@router.get("/team/training/{training_id}", response_class=HTMLResponse)
def training_page(
    request: Request, training_id: int, session: SessionDep, principal: Reader
) -> Response:
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    visible = principal.visible_units
    people = {p.id: p for p in org.list_people(session, visible=visible)}
    invited = [
        people[i] for i in training.list_invited(session, training_id=found.id) if i in people
    ]
    attended = [
        (a, people[a.person_id])
        for a in training.list_attendance(session, training_id=found.id)
        if a.person_id in people
    ]
    by_unit: dict[int, int] = {}
    for attendance, _ in attended:
        by_unit[attendance.unit_id or 0] = by_unit.get(attendance.unit_id or 0, 0) + 1
    units = org.list_visible_units(session, viewer=principal)
    return page(
        request,
        "training.html",
        {
            "t": found,
            "kinds": config.TRAINING_KINDS,
            "materials": training.materials_of(found),
            "invited": invited,
            "attended": attended,
            "signed_ids": {a.person_id for a, _ in attended},
            "by_unit": by_unit,
            "names": org.unit_labels(units),
            "units": units,
            "roles": org.list_duty_role_names(session),
            "office": _office(principal),
            "sign_path": f"/team/sign/{found.sign_token}" if _office(principal) else "",
        },
    )


@router.post("/team/training/{training_id}/invite", response_class=HTMLResponse)
async def invite(
    request: Request, training_id: int, session: SessionDep, principal: Office
) -> Response:
    await check_csrf(request)
    form = await request.form(max_fields=500)
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    roles = [int(v) for v in form.getlist("duty_role_id") if isinstance(v, str) and v.isdigit()]
    units = [int(v) for v in form.getlist("unit_id") if isinstance(v, str) and v.isdigit()]
    try:
        training.invite(
            session, viewer=principal, training=found, duty_role_ids=roles, unit_ids=units
        )
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/training/{training_id}", status_code=303)


@router.post("/team/training/{training_id}/materials", response_class=HTMLResponse)
async def upload_material(
    request: Request, training_id: int, session: SessionDep, principal: Office
) -> Response:
    await check_csrf(request)
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    try:
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise AssessmentError("请选择要上传的资料文件")
        training.add_material(
            session, viewer=principal, training=found, data=await upload.read(),
            filename=upload.filename[-200:],
        )  # fmt: skip
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/training/{training_id}", status_code=303)


@router.get("/team/training/{training_id}/materials/{index}")
def material(
    request: Request, training_id: int, index: int, session: SessionDep, principal: Reader
) -> Response:
    found = training.get_session(session, training_id=training_id)
    materials = training.materials_of(found) if found else []
    if not 0 <= index < len(materials):
        return error_page(request, status_code=404, title="找不到", message="该资料不存在。")
    shown, stored = materials[index]
    return Response(
        files.read("materials", stored),
        media_type="application/octet-stream",
        headers={"content-disposition": f"attachment; filename*=UTF-8''{quote(shown)}"},
    )


@router.get("/team/training/{training_id}/qr.svg")
def sign_qr(request: Request, training_id: int, session: SessionDep, principal: Office) -> Response:
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    base = system.get_public_url(session).url.rstrip("/") or str(request.base_url).rstrip("/")
    return Response(
        training.qr_svg(f"{base}/team/sign/{found.sign_token}"), media_type="image/svg+xml"
    )


@router.post("/team/training/{training_id}/attendance", response_class=HTMLResponse)
async def tick_attendance(
    request: Request, training_id: int, session: SessionDep, principal: Office
) -> Response:
    """The organiser ticks who came; ticking someone already signed in changes nothing."""
    await check_csrf(request)
    form = await request.form(max_fields=5000)
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    ids = [int(v) for v in form.getlist("person_id") if isinstance(v, str) and v.isdigit()]
    try:
        for person_id in ids:
            training.sign_in(
                session, training=found, person_id=person_id, method="list", actor=principal.actor
            )
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/training/{training_id}", status_code=303)


@router.get("/team/training/{training_id}/certificates.xlsx")
def certificates(
    request: Request, training_id: int, session: SessionDep, principal: Office
) -> Response:
    found = training.get_session(session, training_id=training_id)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="该培训不存在。")
    names = org.list_unit_names(session)
    people = {p.id: p for p in org.list_people(session)}
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([f"培训结业名单：{found.topic}（{format_local(found.starts_at)}）"])
    sheet.append(["序号", "姓名", "单位", "签到时间", "签到方式"])
    for n, a in enumerate(training.list_attendance(session, training_id=found.id), start=1):
        person = people.get(a.person_id)
        row = [
            person.name if person else "",
            names.get(a.unit_id or 0, ""),
            format_local(a.signed_at),
            "扫码" if a.method == "qr" else "点名",
        ]
        sheet.append([n, *(xlsx.neutralise(v) for v in row)])
    out = io.BytesIO()
    book.save(out)
    return Response(
        out.getvalue(), media_type=XLSX,
        headers={"content-disposition": f"attachment; filename*=UTF-8''{quote('结业名单.xlsx')}"},
    )  # fmt: skip


@router.get("/team/sign/{token}", response_class=HTMLResponse)
def sign_page(request: Request, token: str, session: SessionDep, principal: SignedIn) -> Response:
    found = training.get_by_token(session, token=token)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="签到码无效。")
    person_id = _person_of(session, principal)
    signed = person_id is not None and any(
        a.person_id == person_id for a in training.list_attendance(session, training_id=found.id)
    )
    return page(request, "sign.html", {"t": found, "person_id": person_id, "signed": signed})


@router.post("/team/sign/{token}", response_class=HTMLResponse)
def sign(
    request: Request, token: str, session: SessionDep, _csrf: CsrfChecked, principal: SignedIn
) -> Response:
    found = training.get_by_token(session, token=token)
    if found is None:
        return error_page(request, status_code=404, title="找不到", message="签到码无效。")
    person_id = _person_of(session, principal)
    if person_id is None:
        return error_page(
            request,
            status_code=422,
            title="无法签到",
            message="您的账号尚未关联队伍人员，请联系管理员，或请组织者在名单中勾选。",
        )
    try:
        training.sign_in(
            session, training=found, person_id=person_id, method="qr", actor=principal.actor
        )
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return page(request, "sign.html", {"t": found, "person_id": person_id, "signed": True})


# --- the month: tasks, credit, scores ---------------------------------------------------


@router.get("/team/month", response_class=HTMLResponse)
def month_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    try:
        month = _month(request)
    except AssessmentError as error:
        return refusal(request, error)
    found = service.compute_month(session, month=month)
    visible = principal.visible_units
    units = [u for u in found.units if visible is None or u.unit_id in visible]
    tasks, tasks_from = service.list_tasks(session, month=month)
    return page(
        request,
        "month.html",
        {
            "month": month,
            "units": units,
            "roles": found.role_names,
            "tasks": tasks,
            "tasks_from": tasks_from,
            "metrics": config.METRICS,
            "weights": service.list_weights(session),
            "office": _office(principal),
            "people": [p for u in units for p in u.people],
            "can_patrol": principal.can("cases.report"),
        },
    )


@router.get("/team/month/people/{person_id}", response_class=HTMLResponse)
def person_month(
    request: Request, person_id: int, session: SessionDep, principal: Reader
) -> Response:
    try:
        month = _month(request)
        person = org.get_visible_person(session, viewer=principal, person_id=person_id)
    except Refused as error:
        return refusal(request, error)
    found = service.compute_month(session, month=month)
    figures = found.people.get(person.id)
    return page(
        request,
        "person.html",
        {
            "month": month,
            "person": person,
            "f": figures,
            "weights": {w.key: w.name for w in service.list_weights(session)},
            "metrics": config.METRICS,
        },
    )


def _month_form(value: str) -> Month:
    return Month.parse(value)


@router.post("/team/tasks", response_class=HTMLResponse)
def save_task(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    month: Annotated[str, Form(max_length=7)] = "",
    duty_role_id: Annotated[str, Form(max_length=12)] = "",
    metric: Annotated[str, Form(max_length=20)] = "",
    target: Annotated[str, Form(max_length=6)] = "",
) -> Response:
    try:
        found = _month_form(month)
        if not target.isdigit() or not duty_role_id.isdigit():
            raise AssessmentError("请选择职责角色并填写任务数量")
        service.save_task(
            session, viewer=principal, month=found, duty_role_id=int(duty_role_id), metric=metric,
            target=int(target),
        )  # fmt: skip
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/month?m={found}", status_code=303)


@router.post("/team/manual", response_class=HTMLResponse)
def manual_item(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    person_id: Annotated[str, Form(max_length=12)] = "",
    points: Annotated[str, Form(max_length=10)] = "",
    title: Annotated[str, Form(max_length=300)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
    day: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    try:
        try:
            value = float(points)
        except ValueError:
            raise AssessmentError("分值应为数字") from None
        at = local_date(day) if day else None
        row = service.add_manual(
            session, viewer=principal, person_id=int(person_id) if person_id.isdigit() else 0,
            points=value, title=title, reason=reason, at=at,
        )  # fmt: skip
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    month = Month.of((to_local(row.at) or row.at).date())
    return RedirectResponse(f"/team/month/people/{row.person_id}?m={month}", status_code=303)


@router.post("/team/quality", response_class=HTMLResponse)
def quality(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    month: Annotated[str, Form(max_length=7)] = "",
    person_id: Annotated[str, Form(max_length=12)] = "",
    score: Annotated[str, Form(max_length=6)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        found = _month_form(month)
        try:
            value = float(score)
        except ValueError:
            raise AssessmentError("质量评分应为 0 到 100 的数字") from None
        service.save_quality(
            session, viewer=principal, month=found,
            person_id=int(person_id) if person_id.isdigit() else 0, score=value, note=note,
        )  # fmt: skip
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/month/people/{person_id}?m={found}", status_code=303)


@router.post("/team/patrol", response_class=HTMLResponse)
def file_patrol(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Reporter,
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Today's patrol report of the account's own person (once a day)."""
    person_id = _person_of(session, principal)
    if person_id is None:
        return done("/team/month", "nopatrol")
    today = (to_local(utcnow()) or utcnow()).date()
    try:
        service.file_patrol(
            session, person_id=person_id, day=today, actor=principal.actor, note=note
        )
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return done("/team/month", "patrol")


# --- the bulletin -----------------------------------------------------------------------


@router.get("/team/bulletin", response_class=HTMLResponse)
def bulletin_page(request: Request, session: SessionDep, principal: Reader) -> Response:
    refused = _all_units(request, principal)
    if refused:
        return refused
    try:
        month = _month(request)
    except AssessmentError as error:
        return refusal(request, error)
    row = bulletin.get_bulletin(session, month=month)
    if row is not None:
        content = bulletin.content_of(row)
    else:
        content = bulletin.content(session, found=service.compute_month(session, month=month))
    return page(
        request,
        "bulletin.html",
        {"month": month, "content": content, "row": row, "office": _office(principal)},
    )


@router.post("/team/bulletin", response_class=HTMLResponse)
def make_bulletin(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Office,
    month: Annotated[str, Form(max_length=7)] = "",
    send: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    try:
        found = _month_form(month)
        row = bulletin.make(session, month=found, actor=principal.actor)
        if send:
            bulletin.send(session, row=row)
    except Refused as error:
        session.rollback()
        return refusal(request, error)
    session.commit()
    return RedirectResponse(f"/team/bulletin?m={found}", status_code=303)


@router.get("/team/bulletin/{month}.docx")
def bulletin_docx(request: Request, month: str, session: SessionDep, principal: Reader) -> Response:
    refused = _all_units(request, principal)
    if refused:
        return refused
    try:
        found = Month.parse(month)
    except AssessmentError as error:
        return error_page(request, status_code=404, title="找不到", message=str(error))
    row = bulletin.get_bulletin(session, month=found)
    # A month not made yet is rendered as it stands, and not kept (a reader's download
    # does not issue the bulletin).
    content = (
        bulletin.content_of(row)
        if row is not None
        else bulletin.content(session, found=service.compute_month(session, month=found))
    )
    name = quote(f"月度通报{found}.docx")
    return Response(
        to_docx(content),
        media_type="application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        headers={"content-disposition": f"attachment; filename*=UTF-8''{name}"},
    )


@router.get("/team/year.xlsx")
def year_export(request: Request, session: SessionDep, principal: Reader) -> Response:
    refused = _all_units(request, principal)
    if refused:
        return refused
    text = request.query_params.get("year", "")
    year = int(text) if text.isdigit() and 2000 <= int(text) <= 2100 else date.today().year
    data = bulletin.export_year(session, year=year, actor=principal.actor)
    session.commit()
    name = quote(f"{year}年各单位考核数据.xlsx")
    return Response(
        data,
        media_type=XLSX,
        headers={"content-disposition": f"attachment; filename*=UTF-8''{name}"},
    )
