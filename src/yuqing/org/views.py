"""Desk pages of the organisation (单位与人员): unit tree, units, people, duty roles, the
roster in Excel. Access is decided by the services (OrgAccessError → 404,
OrgPermissionError → 403); routes also declare the permission they need."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from pydantic import ValidationError
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.responses import HTMLResponse, RedirectResponse, Response

from yuqing.auth.deps import require
from yuqing.auth.schemas import Principal
from yuqing.core.database import SessionDep
from yuqing.org import desk, excel, service
from yuqing.org.models import Person, Unit
from yuqing.org.schemas import PersonIn, RosterImport, UnitIn
from yuqing.pagekit.csrf import CsrfChecked, check_csrf
from yuqing.pagekit.templating import error_page, refused, render

router = APIRouter(include_in_schema=False)

Reader = Annotated[Principal, Depends(require("org.read"))]
Manager = Annotated[Principal, Depends(require("org.manage"))]
# Multipart framing around the file: boundaries, part headers, the CSRF field.
_FORM_OVERHEAD = 64 * 1024

PERSON_FIELDS = (
    ("position", "职务"),
    ("phone", "手机"),
    ("email", "邮箱"),
    ("wecom_userid", "企业微信号"),
    ("dingtalk_userid", "钉钉号"),
    ("political_status", "政治面貌"),
)


def _not_found(request: Request) -> HTMLResponse:
    return error_page(
        request,
        status_code=404,
        title="找不到",
        message="该单位或人员不存在，或不在您的查看范围内。",
    )


def _page(
    request: Request,
    template: str,
    context: dict[str, object],
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """An org page: the section's nav, and what a form left (a notice, or an error)."""
    return render(
        request,
        f"org/{template}",
        {"nav": "org", **context, "notice": notice, "error": error},
        status_code=status_code,
    )


def _int_or_none(value: str) -> int | None:
    value = value.strip()
    return int(value) if value.lstrip("-").isdigit() else None


def _message(error: Exception) -> str:
    """What the page says of a refused form: the checks' messages, or the service's."""
    if not isinstance(error, ValidationError):
        return str(error)
    return "；".join(str(e["msg"]).removeprefix("Value error, ") for e in error.errors())


# --- the tree -------------------------------------------------------------------------


@router.get("/org", response_class=HTMLResponse)
def tree_page(request: Request, session: SessionDep, principal: Reader) -> HTMLResponse:
    return _tree(request, session, principal)


def _tree(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "tree.html",
        {
            "rows": service.list_unit_tree(session, viewer=principal),
            "roles": service.list_duty_roles(session),
            "kinds": service.list_kinds(session),
            "can_manage": principal.can(service.MANAGE),
            "all_units": principal.visible_units is None,
        },
        error=error,
        status_code=status_code,
    )


class UnitForm:
    """The fields of the unit form (the new-unit form sends no head or contact person)."""

    def __init__(
        self,
        name: Annotated[str, Form(max_length=200)] = "",
        parent_id: Annotated[str, Form(max_length=20)] = "",
        kind_id: Annotated[str, Form(max_length=20)] = "",
        head_person_id: Annotated[str, Form(max_length=20)] = "",
        contact_person_id: Annotated[str, Form(max_length=20)] = "",
        student_count: Annotated[str, Form(max_length=20)] = "",
    ) -> None:
        self.name = name
        self.parent_id = parent_id
        self.kind_id = kind_id
        self.head_person_id = head_person_id
        self.contact_person_id = contact_person_id
        self.student_count = student_count

    def unit_in(self, *, parent_id: int | None, people: bool = True) -> UnitIn:
        """The checked unit (head and contact person only with ``people``); raises
        ``ValidationError``."""
        return UnitIn(
            name=self.name,
            parent_id=parent_id,
            kind_id=_int_or_none(self.kind_id),
            head_person_id=_int_or_none(self.head_person_id) if people else None,
            contact_person_id=_int_or_none(self.contact_person_id) if people else None,
            student_count=_int_or_none(self.student_count),
        )


@router.post("/org/units", response_class=HTMLResponse)
def create_unit(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    form: Annotated[UnitForm, Depends()],
) -> Response:
    try:
        unit_in = form.unit_in(parent_id=_int_or_none(form.parent_id), people=False)
        unit = desk.create_managed_unit(session, viewer=principal, unit_in=unit_in)
    except (ValidationError, service.OrgError) as error:
        return _tree(request, session, principal, error=_message(error), status_code=400)
    except service.OrgAccessError:
        return _not_found(request)
    except service.OrgPermissionError as error:
        return refused(request, str(error))
    session.commit()
    return RedirectResponse(f"/org/units/{unit.id}?saved=1", status_code=303)


# --- a unit ---------------------------------------------------------------------------


@router.get("/org/units/{unit_id}", response_class=HTMLResponse)
def unit_page(request: Request, unit_id: int, session: SessionDep, principal: Reader) -> Response:
    try:
        unit = service.get_visible_unit(session, viewer=principal, unit_id=unit_id)
    except service.OrgAccessError:
        return _not_found(request)
    notice = "已保存。" if request.query_params.get("saved") else None
    return _unit(request, session, principal, unit, notice=notice)


def _unit(
    request: Request,
    session: Session,
    principal: Principal,
    unit: Unit,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    people = service.list_visible_people(session, viewer=principal, unit_id=unit.id)
    units = service.list_visible_units(session, viewer=principal)
    by_id = {u.id: u for u in units}
    return _page(
        request,
        "unit.html",
        {
            "unit": unit,
            "path": service.unit_path(unit, by_id),
            "parent": by_id.get(unit.parent_id or 0),
            "children": [u for u in units if u.parent_id == unit.id],
            "people": people,
            "roles_of": service.list_duty_roles_of(session, person_ids=[p.id for p in people]),
            "people_by_id": {p.id: p for p in people},
            "kinds": service.list_kinds(session),
            "kind_names": {k.id: k.name for k in service.list_kinds(session)},
            "parents": [u for u in units if u.id != unit.id],
            "can_manage": principal.can(service.MANAGE),
            "all_units": principal.visible_units is None,
        },
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.post("/org/units/{unit_id}", response_class=HTMLResponse)
def edit_unit(
    request: Request,
    unit_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    form: Annotated[UnitForm, Depends()],
) -> Response:
    try:
        unit = service.get_visible_unit(session, viewer=principal, unit_id=unit_id)
    except service.OrgAccessError:
        return _not_found(request)
    try:
        all_units = principal.visible_units is None
        parent_id = _int_or_none(form.parent_id) if all_units else unit.parent_id
        unit_in = form.unit_in(parent_id=parent_id)
        desk.update_managed_unit(session, viewer=principal, unit=unit, unit_in=unit_in)
    except (ValidationError, service.OrgError) as error:
        session.rollback()
        unit = service.get_visible_unit(session, viewer=principal, unit_id=unit_id)
        return _unit(request, session, principal, unit, error=_message(error), status_code=400)
    except service.OrgAccessError:
        return _not_found(request)
    except service.OrgPermissionError as error:
        return refused(request, str(error))
    session.commit()
    return RedirectResponse(f"/org/units/{unit.id}?saved=1", status_code=303)


# --- people ---------------------------------------------------------------------------


def _person_page(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    person: Person | None,
    form: dict[str, str],
    role_keys: list[str],
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    units = service.list_visible_units(session, viewer=principal)
    labels = service.unit_labels(service.list_units(session))
    held = service.list_duty_roles_of(session, person_ids=[person.id])[person.id] if person else []
    return _page(
        request,
        "person.html",
        {
            "person": person,
            "unit": session.get(Unit, person.unit_id) if person and person.unit_id else None,
            "form": form,
            "role_keys": set(role_keys),
            "held": held,
            "roles": service.list_duty_roles(session),
            "units": [(u.id, labels[u.id]) for u in units],
            "fields": PERSON_FIELDS,
            "can_manage": principal.can(service.MANAGE),
        },
        notice=notice,
        error=error,
        status_code=status_code,
    )


def _form_of(person: Person) -> dict[str, str]:
    form = {key: getattr(person, key) or "" for key, _ in PERSON_FIELDS}
    return {
        **form,
        "name": person.name,
        "unit_id": str(person.unit_id or ""),
        "note": person.note or "",
    }


class PersonForm:
    """The fields of the person form (duty roles as repeated ``roles`` checkboxes)."""

    def __init__(
        self,
        name: Annotated[str, Form(max_length=200)] = "",
        unit_id: Annotated[str, Form(max_length=20)] = "",
        position: Annotated[str, Form(max_length=200)] = "",
        phone: Annotated[str, Form(max_length=100)] = "",
        email: Annotated[str, Form(max_length=300)] = "",
        wecom_userid: Annotated[str, Form(max_length=200)] = "",
        dingtalk_userid: Annotated[str, Form(max_length=200)] = "",
        political_status: Annotated[str, Form(max_length=100)] = "",
        note: Annotated[str, Form(max_length=4000)] = "",
        roles: Annotated[list[str] | None, Form()] = None,
    ) -> None:
        self.values = {
            "name": name,
            "unit_id": unit_id,
            "position": position,
            "phone": phone,
            "email": email,
            "wecom_userid": wecom_userid,
            "dingtalk_userid": dingtalk_userid,
            "political_status": political_status,
            "note": note,
        }
        self.roles = [r for r in (roles or []) if r][:50]


@router.get("/org/people/new", response_class=HTMLResponse)
def new_person_page(
    request: Request, session: SessionDep, principal: Manager, unit_id: int | None = None
) -> HTMLResponse:
    return _person_page(
        request, session, principal, person=None, form={"unit_id": str(unit_id or "")}, role_keys=[]
    )


@router.get("/org/people/{person_id}", response_class=HTMLResponse)
def person_page(
    request: Request, person_id: int, session: SessionDep, principal: Reader
) -> HTMLResponse:
    try:
        person = service.get_visible_person(session, viewer=principal, person_id=person_id)
    except service.OrgAccessError:
        return _not_found(request)
    keys = [r.key for r in service.list_duty_roles_of(session, person_ids=[person.id])[person.id]]
    notice = "已保存。" if request.query_params.get("saved") else None
    return _person_page(
        request,
        session,
        principal,
        person=person,
        form=_form_of(person),
        role_keys=keys,
        notice=notice,
    )


@router.post("/org/people/new", response_class=HTMLResponse)
def create_person(
    request: Request,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    form: Annotated[PersonForm, Depends()],
) -> Response:
    return _save(request, session, principal, person=None, form=form)


@router.post("/org/people/{person_id}", response_class=HTMLResponse)
def edit_person(
    request: Request,
    person_id: int,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    form: Annotated[PersonForm, Depends()],
) -> Response:
    try:
        person = service.get_visible_person(session, viewer=principal, person_id=person_id)
    except service.OrgAccessError:
        return _not_found(request)
    return _save(request, session, principal, person=person, form=form)


def _save(
    request: Request,
    session: Session,
    principal: Principal,
    *,
    person: Person | None,
    form: PersonForm,
) -> Response:
    values = form.values
    try:
        unit_id = _int_or_none(values["unit_id"])
        if unit_id is None:
            raise service.OrgError("请选择单位")
        person_in = PersonIn(
            **{k: v for k, v in values.items() if k != "unit_id"},
            unit_id=unit_id,
            role_keys=form.roles,
        )
        saved, _ = desk.save_person(session, viewer=principal, person_in=person_in, person=person)
    except (ValidationError, service.OrgError, service.OrgAccessError) as error:
        # A unit outside the viewer's units chosen by hand is just a wrong choice here.
        session.rollback()
        message = _message(error)
        if person is not None:
            person = session.get(Person, person.id)
        return _person_page(
            request,
            session,
            principal,
            person=person,
            form=values,
            role_keys=form.roles,
            error=message,
            status_code=400,
        )
    except service.OrgPermissionError as error:
        return refused(request, str(error))
    session.commit()
    return RedirectResponse(f"/org/people/{saved.id}?saved=1", status_code=303)


# --- duty roles and unit kinds --------------------------------------------------------


@router.get("/org/settings", response_class=HTMLResponse)
def settings_page(request: Request, session: SessionDep, principal: Manager) -> HTMLResponse:
    try:
        service.check_all_units_manager(principal)
    except service.OrgPermissionError as error:
        return refused(request, str(error))
    return _settings(request, session)


def _settings(
    request: Request,
    session: Session,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "settings.html",
        {
            "roles": service.list_duty_roles(session),
            "kinds": service.list_kinds(session),
        },
        notice=notice,
        error=error,
        status_code=status_code,
    )


@router.post("/org/settings/{what}", response_class=HTMLResponse)
def save_lookup(
    request: Request,
    what: str,
    session: SessionDep,
    _csrf: CsrfChecked,
    principal: Manager,
    name: Annotated[str, Form(max_length=200)] = "",
    item_id: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    """Rename (``item_id`` given) or add a duty role (``what=roles``) or unit kind (``kinds``)."""
    if what not in ("roles", "kinds"):
        return _not_found(request)
    target = _int_or_none(item_id)
    try:
        if what == "roles":
            if target is None:
                desk.create_duty_role(session, viewer=principal, name=name)
            else:
                desk.update_duty_role_name(session, viewer=principal, role_id=target, name=name)
        elif target is None:
            desk.create_kind(session, viewer=principal, name=name)
        else:
            desk.update_kind_name(session, viewer=principal, kind_id=target, name=name)
    except service.OrgPermissionError as error:
        return refused(request, str(error))
    except service.OrgAccessError:
        return _not_found(request)
    except service.OrgError as error:
        session.rollback()
        return _settings(request, session, error=str(error), status_code=400)
    session.commit()
    return _settings(request, session, notice="已保存。")


# --- Excel ----------------------------------------------------------------------------


def _xlsx(data: bytes, filename: str) -> Response:
    disposition = f"attachment; filename=\"roster.xlsx\"; filename*=UTF-8''{quote(filename)}"
    return Response(
        data,
        media_type=excel.XLSX_TYPE,
        headers={"Content-Disposition": disposition, "Cache-Control": "no-store"},
    )


@router.get("/org/export/ledger.xlsx")
def export_ledger(session: SessionDep, principal: Reader) -> Response:
    data = excel.export_ledger(session, viewer=principal)
    session.commit()
    return _xlsx(data, "网络评论员台账.xlsx")


@router.get("/org/export/registration.xlsx")
def export_registration(
    request: Request, session: SessionDep, principal: Reader, unit_id: int | None = None
) -> Response:
    try:
        data = excel.export_registration(session, viewer=principal, unit_id=unit_id)
    except service.OrgAccessError:
        return _not_found(request)
    session.commit()
    return _xlsx(data, "网络评论员登记表.xlsx")


@router.get("/org/import", response_class=HTMLResponse)
def import_page(request: Request, principal: Manager) -> HTMLResponse:
    return _import(request)


def _import(
    request: Request,
    *,
    report: RosterImport | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return _page(
        request,
        "import.html",
        {
            "report": report,
            "cap_mb": excel.cap_bytes() // 1024 // 1024,
            "headers": excel.REGISTRATION_HEADERS,
        },
        error=error,
        status_code=status_code,
    )


async def _capped_body(request: Request, cap: int) -> bytes | None:
    """The request body, or ``None`` as soon as it grows past ``cap`` (or says it will):
    an oversize upload is refused without being read whole or spooled to disk."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > cap:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > cap:
            return None
    # Starlette's own request.body() keeps the bytes here; form() then parses them.
    request._body = bytes(body)
    return request._body


@router.post("/org/import", response_class=HTMLResponse)
async def import_roster(request: Request, session: SessionDep, principal: Manager) -> Response:
    body = await _capped_body(request, excel.cap_bytes() + _FORM_OVERHEAD)
    if body is None:
        message = f"文件超过 {excel.cap_bytes() // 1024 // 1024} MB，已拒绝，未读取其内容。"
        return _import(request, error=message, status_code=413)
    await check_csrf(request)
    form = await request.form(max_files=1, max_fields=10)
    upload = form.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return _import(request, error="请选择要导入的 .xlsx 文件。", status_code=400)
    data = await upload.read()
    filename = upload.filename[-200:]
    try:
        report = excel.import_roster(session, viewer=principal, data=data, filename=filename)
    except excel.RosterFileError as error:
        session.rollback()
        return _import(request, error=str(error), status_code=400)
    session.commit()
    return _import(request, report=report)
